import assert from 'node:assert/strict'
import { test } from 'node:test'

import {
  Incident, Timeline, Policy, buildPostMortem, channelName, transitionAllowed, stakeholdersFor, formatUtc,
  initialStatusPage, statusUpdate, statusUpdateFor, resolvedMessage, resolvedMessageFor, cadenceStatus,
  ConflictError,
} from 'incident-core'
import { rejects } from './helpers.mjs'

const t0 = Date.parse('2024-05-03T14:00:00Z')
const at = (m) => new Date(t0 + m * 60_000)

function declare() {
  return Incident.declare(
    {
      id: 'INC-2024-0042', title: 'ml-inference-api 5xx', severity: 'P1', components: ['ml-inference-api'],
      impact: 'predictions failing for 30% of requests', customerFacing: true, customersAffected: true,
      onCall: 'alice', startedAt: at(-5), detectionSource: 'prometheus',
    },
    undefined,
    at(0),
  )
}

test('Incident: declare, lifecycle, metrics, timeline chain', () => {
  const inc = declare()
  assert.equal(inc.id, 'INC-2024-0042')
  assert.equal(inc.severity, 'P1')
  assert.equal(inc.status, 'investigating')
  assert.equal(inc.commander, 'alice')
  assert.equal(inc.channel, channelName(at(0)))
  assert.ok(inc.declaredAt instanceof Date)
  assert.equal(inc.declaredAt.getTime(), t0)
  inc.acknowledge('alice', at(2))
  inc.transition('identified', 'alice', at(10))
  inc.changeSeverity('P0', 'revenue impact confirmed', 'alice', at(11))
  inc.handOver('bob', 'alice', at(12))
  inc.markMitigated('bob', at(20))
  inc.transition('monitoring', 'bob', at(21))
  inc.setRootCause('bad deploy v2.1.0')
  inc.setResolution('rolled back to v2.0.3')
  const note = inc.record({ type: 'note', text: 'customers notified' }, 'bob', at(22))
  assert.equal(note.type, 'note')
  inc.resolve('bob', at(30))
  assert.equal(inc.status, 'resolved')
  assert.equal(inc.severity, 'P0')
  assert.equal(inc.commander, 'bob')
  const m = inc.metrics()
  assert.equal(m.mttdSeconds, 300)
  assert.equal(m.mttaSeconds, 120)
  assert.equal(m.mttmSeconds, 1200)
  assert.equal(m.mttrSeconds, 1800)
  const tl = inc.timeline
  assert.ok(tl instanceof Timeline)
  tl.verify()
  const ev = tl.events()
  assert.equal(ev[0].seq, 1)
  assert.ok(ev.map((e) => e.type).includes('status_changed'))
  assert.equal(ev.at(-1).hash, tl.headHash)
  assert.ok(ev[0].at instanceof Date)
  assert.deepEqual(tl.metrics(at(-5)), m)
  // JSON round trip re-verifies the chain
  const again = Incident.fromJSON(JSON.parse(JSON.stringify(inc)))
  assert.equal(again.timeline.headHash, tl.headHash)
  assert.equal(Timeline.fromJSON(JSON.stringify(tl)).length, tl.length)
})

test('Incident: ticket, stakeholders, channel intro', () => {
  const inc = declare()
  assert.match(inc.ticket(), /ml-inference-api 5xx/)
  const st = inc.stakeholders()
  assert.ok(st.length > 0)
  assert.ok(st.every((s) => typeof s.role === 'string' && typeof s.reason === 'string'))
  assert.deepEqual(stakeholdersFor('P1', true, true).map((s) => s.role), st.map((s) => s.role))
  assert.match(inc.channelIntro(new Policy()), /Incident Commander: alice/)
  assert.equal(transitionAllowed('investigating', 'identified'), true)
  assert.equal(transitionAllowed('resolved', 'investigating'), false)
})

test('comms: templates and cadence', () => {
  const inc = declare()
  assert.match(formatUtc(at(0)), /2024-05-03 14:00/)
  assert.match(initialStatusPage('ML inference API'), /ML inference API/)
  const text = statusUpdate({ time: at(15), status: 'identified', impact: 'slow predictions', nextUpdate: at(45), details: 'rolling back' })
  assert.match(text, /slow predictions/)
  assert.match(statusUpdateFor(inc, 'investigating', at(5)), /INC|investigating|Investigating/i)
  const c = cadenceStatus(inc, { now: at(90) })
  assert.ok(c.nextInternalDue instanceof Date)
  assert.ok(c.overdue.length >= 1)
  assert.equal(c.overdue[0].kind, 'internal')
  assert.ok(c.overdue[0].lateBySeconds > 0)
  // Times before the declaration (or a last update after now) are refused, not answered.
  assert.throws(() => cadenceStatus(inc, { now: at(-1) }), (e) => e.code === 'invalid_input' && /earlier than the declaration/.test(e.message))
  assert.throws(
    () => cadenceStatus(inc, { lastInternalUpdate: at(-60), now: at(90) }),
    (e) => e.code === 'invalid_input' && /last internal update .* earlier than the declaration/.test(e.message),
  )
  assert.throws(() => cadenceStatus(inc, { lastStatusPageUpdate: at(120), now: at(90) }), (e) => e.code === 'invalid_input' && /later than now/.test(e.message))
  const msg = resolvedMessage({
    time: at(60), service: 'ML inference API', startedAt: at(0), rootCause: 'bad deploy', resolution: 'rollback', impact: '30% errors',
  })
  assert.match(msg, /bad deploy/)
})

test('post-mortem from the timeline', () => {
  const inc = declare()
  inc.acknowledge('alice', at(2))
  inc.setRootCause('bad deploy')
  const pm = buildPostMortem(inc, {
    contributingFactors: ['no canary'],
    actionItems: [{ description: 'add canary', owner: 'bob', due: '2024-06-01' }],
  })
  assert.equal(pm.incidentId, 'INC-2024-0042')
  const md = pm.toMarkdown()
  assert.match(md, /add canary/)
  assert.match(md, /no canary/)
  assert.equal(pm.toJSON().action_items[0].due, '2024-06-01')
  assert.match(buildPostMortem(inc).toMarkdown(), /_TBD_/)
})

test('lifecycle, comms, post-mortem: bad input', async () => {
  const inc = declare()
  await rejects(assert, () => Incident.declare({ id: 'X', title: 't', severity: 'P7', onCall: 'a' }), 'invalid_input',
    'severity: "P7" is not one of P0, P1, P2, P3')
  await rejects(assert, () => Incident.declare({ id: 'X', title: 't', severity: 'P1' }), 'invalid_input', /onCall|on_call/)
  await rejects(assert, () => Incident.declare({ id: 'X', title: 't', severity: 'P1', onCall: ' ' }), 'invalid_input', /./)
  const e = await rejects(assert, () => inc.changeSeverity('P1', 'same', 'alice'), 'conflict', /already P1/)
  assert.ok(e instanceof ConflictError)
  await rejects(assert, () => inc.transition('investigating', 'alice'), 'conflict', /./)
  await rejects(assert, () => inc.transition('done', 'alice'), 'invalid_input', /"done" is not one of/)
  await rejects(assert, () => inc.handOver('', 'alice'), 'invalid_input', /./)
  await rejects(assert, () => inc.record({ type: 'no_such_event' }, 'alice'), 'invalid_input', /timeline event/)
  await rejects(assert, () => resolvedMessageFor(inc), 'invalid_input', /./).catch(async () =>
    rejects(assert, () => resolvedMessageFor(inc), 'precondition_failed', /./))
  await rejects(assert, () => statusUpdate({ time: at(0), status: 'sleeping', impact: 'x' }), 'invalid_input', /"sleeping"/)
  await rejects(assert, () => buildPostMortem(inc, { actionItems: [{ owner: 'x' }] }), 'invalid_input', /post-mortem input: field `action_items\[0\]/)
  await rejects(assert, () => Incident.fromJSON({ incident: {}, timeline: {} }), 'invalid_input', /incident/)
  const json = JSON.parse(JSON.stringify(inc.timeline))
  json.events[0].actor = 'mallory'
  await rejects(assert, () => Timeline.fromJSON(json), 'integrity', /./)
  await rejects(assert, () => cadenceStatus({}), 'invalid_input', /./)
})
