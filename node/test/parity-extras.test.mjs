// Entry points bound for API parity beside the list: Incident.transition with a message,
// Incident.emergencyContacts / declarationNotifications, Detector.serviceCount, Policy.contact / digest /
// escalationLevels / pagesAtDeclaration, and the simulator's deployImage, faults / setFaults,
// elapsedSeconds and apiOperations (core's sim::SimPlatform).
import assert from 'node:assert/strict'
import { test } from 'node:test'

import { Detector, Incident, Policy, SimPlatform, procedure, runPlan, triage } from 'incident-core'
import { rejects } from './helpers.mjs'

const t0 = Date.parse('2024-05-03T14:00:00Z')
const at = (m) => new Date(t0 + m * 60_000)

function declare(title, severity = 'P1') {
  return Incident.declare(
    { id: 'INC-2024-0099', title, severity, components: ['ml-inference-api'], customerFacing: true, customersAffected: true, onCall: 'alice' },
    undefined,
    at(0),
  )
}

test('Incident.transition keeps what the responder said; a blank message is invalid_input', async () => {
  const inc = declare('ml-inference-api 5xx')
  inc.transition('identified', 'alice', at(5), 'bad deploy of v2.3')
  const changed = inc.timeline.events().filter((e) => e.type === 'status_changed')
  assert.equal(changed.length, 1)
  assert.match(JSON.stringify(changed[0].data), /bad deploy of v2\.3/)
  inc.transition('monitoring', 'alice', at(10))
  assert.equal(inc.status, 'monitoring')
  await rejects(assert, () => inc.transition('identified', 'alice', at(11), '  '), 'invalid_input')
})

test('Incident.emergencyContacts: who to call, by severity and the words of the title', () => {
  const region = declare('us-west-2 region outage, RDS failover')
  const roles = region.emergencyContacts().map((c) => c.role)
  assert.ok(roles.includes('aws_support'), JSON.stringify(roles))
  assert.ok(!roles.includes('pagerduty_support'))
  assert.deepEqual(declare('checkout latency', 'P1').emergencyContacts(), [])
  assert.ok(declare('paging broken: alerting down').emergencyContacts().some((c) => c.role === 'pagerduty_support'))
  assert.deepEqual(declare('aws region down', 'P3').emergencyContacts().map((c) => c.role), [])
})

test('Detector.serviceCount: the services the detector holds state for', () => {
  const d = new Detector()
  assert.equal(d.serviceCount, 0)
  d.observe({ service: 'api', at: at(0), signal: { kind: 'error_rate', errorRate: 0.01 } })
  d.observe({ service: 'db', at: at(0), signal: { kind: 'error_rate', errorRate: 0.01 } })
  d.observe({ service: 'api', at: at(1), signal: { kind: 'error_rate', errorRate: 0.02 } })
  assert.equal(d.serviceCount, 2)
  d.forget('api')
  assert.equal(d.serviceCount, 1)
})

test('SimPlatform: deployImage rolls out a new revision that triage reports as a recent change', async () => {
  const p = SimPlatform.fromScenario('bad-deploy')
  const before = p.now
  const rev = p.deployImage('ml-platform-primary', 'ml-platform', 'ml-inference-api', 'ml-inference-api:v9', 'CI deploy v9')
  assert.ok(Number.isInteger(rev) && rev >= 2, `revision ${rev}`)
  const changes = (await triage(p, { since: before })).toJSON().changes
  assert.ok(changes.rollouts.some((r) => r.deployment.endsWith('/ml-inference-api')), JSON.stringify(changes.rollouts))
  assert.ok(p.operationLog().some((op) => /ml-inference-api:v9/.test(JSON.stringify(op))))
  assert.deepEqual(p.apiOperations(), [], 'a CI deploy is not an API change')
  await rejects(assert, () => p.deployImage('ml-platform-primary', 'ml-platform', 'nope', 'x:1'), 'not_found', /nope/)
  await rejects(assert, () => p.deployImage('no-such-context', 'ml-platform', 'ml-inference-api', 'x:1'), 'not_found')
})

test('SimPlatform: apiOperations lists what a run changed; elapsedSeconds follows the virtual clock', async () => {
  const p = SimPlatform.fromScenario('bad-deploy')
  assert.equal(p.elapsedSeconds, 0)
  p.advance(180)
  assert.equal(p.elapsedSeconds, 180)
  const plan = await procedure('application-rollback').plan(p)
  const report = await runPlan(plan.approve({ by: 'alice', at: p.now }), p)
  assert.equal(report.status, 'succeeded')
  const ops = p.apiOperations()
  assert.ok(ops.length >= 1)
  assert.ok(ops.every((op) => op.origin === 'api'))
  assert.ok(p.elapsedSeconds > 180)
})

test('SimPlatform: faults and setFaults in the scenario shape, checked by core', async () => {
  const p = SimPlatform.fromScenario('bad-deploy')
  const none = p.faults()
  assert.equal(none.error_rate, 0)
  assert.deepEqual(none.dark_regions, [])
  p.setFaults({ errorRate: 1, darkRegions: ['us-east-1'], seed: 7 })
  const f = p.faults()
  assert.equal(f.error_rate, 1)
  assert.equal(f.seed, 7)
  assert.deepEqual(f.dark_regions, ['us-east-1'])
  const report = (await triage(p)).toJSON()
  assert.ok(report.missing.length > 0, 'every call fails at error rate 1')
  p.setFaults({})
  assert.deepEqual(p.faults(), none)
  assert.equal((await triage(p)).toJSON().missing.length, 0)
  await rejects(assert, () => p.setFaults({ errorRate: 2 }), 'invalid_input', /error_rate/)
  await rejects(assert, () => p.setFaults({ errorRat: 0.1 }), 'invalid_input', /error_rat/)
})

test('Policy.digest, escalationLevels and pagesAtDeclaration answer as core', async () => {
  const p = new Policy()
  assert.match(p.digest(), /^[0-9a-f]{64}$/)
  assert.equal(p.digest(), new Policy().digest())
  const changed = new Policy({ business_hours: { timezone: 'Europe/Berlin' } })
  assert.notEqual(changed.digest(), p.digest())
  const plan = await procedure('application-rollback').plan(SimPlatform.fromScenario('bad-deploy'), p)
  assert.equal(plan.toJSON().policy_digest, p.digest())

  const p0 = p.escalationLevels('P0')
  assert.ok(p0.length >= 1 && p0[0].length >= 1, JSON.stringify(p0))
  assert.ok(p0.flat().every((r) => typeof r === 'string' && /^[a-z_]+$/.test(r)))
  await rejects(assert, () => p.escalationLevels('P7'), 'invalid_input')

  const fridayEvening = new Date('2024-05-03T18:00:00Z')
  const fridayMorning = new Date('2024-05-03T10:00:00Z')
  assert.equal(p.pagesAtDeclaration('P0', fridayEvening), true)
  assert.equal(p.pagesAtDeclaration('P2', fridayMorning), true)
  assert.equal(p.pagesAtDeclaration('P2', fridayEvening), false)
  await rejects(assert, () => p.pagesAtDeclaration('P2', 'friday'), 'invalid_input')
})

test('Policy.contact and Incident.declarationNotifications answer from the policy', async () => {
  const p = new Policy()
  const cto = p.contact('cto')
  assert.equal(cto.role, 'cto')
  assert.deepEqual(cto.only_for, ['P0'])
  assert.deepEqual(p.toJSON().contacts.find((c) => c.role === 'cto'), cto)
  assert.equal(new Policy({ contacts: [] }).contact('cto'), null)
  await rejects(assert, () => p.contact('janitor'), 'invalid_input', /role/)

  const inc = declare('ml-inference-api 5xx', 'P0')
  const notes = inc.declarationNotifications()
  assert.ok(notes.length >= 2)
  assert.ok(notes.every((n) => n.incident_id === 'INC-2024-0099' && typeof n.text === 'string'))
  assert.ok(notes.some((n) => n.to.type === 'channel'), JSON.stringify(notes.map((n) => n.to)))
  assert.ok(notes.length > declare('ml-inference-api 5xx', 'P3').declarationNotifications().length, 'a P0 tells more people')
})
