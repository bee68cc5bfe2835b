import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'

import {
  SimPlatform, Procedure, Plan, ApprovedPlan, RunReport, TriageReport, procedure, procedureNames, parseProcedure,
  scenarioNames, runPlan, resumeRun, triage, NotFoundError,
} from 'incident-core'
import { rejects } from './helpers.mjs'

const dir = mkdtempSync(join(tmpdir(), 'incident-node-'))
after(() => rmSync(dir, { recursive: true, force: true }))

const params = { context: 'ml-platform-primary', namespace: 'ml-platform', deployment: 'ml-inference-api' }

test('names of scenarios and library procedures', () => {
  assert.ok(scenarioNames().includes('bad-deploy'))
  assert.ok(procedureNames().includes('application-rollback'))
})

test('plan → approve → run → resume on a simulator state file with a SQLite journal', async () => {
  const state = join(dir, 'sim.json')
  const store = join(dir, 'journal.sqlite')
  const platform = SimPlatform.create(state, 'bad-deploy')
  assert.equal(platform.scenarioName, 'bad-deploy')
  assert.equal(platform.path, state)
  const start = platform.now.getTime()
  platform.advance(180) // the bad rollout happens at 2m
  assert.equal(platform.now.getTime() - start, 180_000)

  const report = await triage(platform)
  assert.ok(report instanceof TriageReport)
  assert.equal(report.healthy, false)
  assert.ok(report.degradedDeployments.includes('ml-inference-api'))
  assert.match(report.render(), /ml-inference-api/)

  const proc = procedure('application-rollback', params)
  assert.ok(proc instanceof Procedure)
  proc.validate()
  assert.ok(proc.stages().length >= 1)
  assert.deepEqual(parseProcedure(JSON.stringify(proc.toJSON())).toJSON(), proc.toJSON())
  assert.deepEqual(proc.diff(proc), [])

  const plan = await proc.plan(platform)
  assert.ok(plan instanceof Plan)
  assert.equal(plan.procedureName, 'application-rollback')
  assert.ok(plan.createdAt instanceof Date)
  assert.deepEqual(plan.refusals(), [])
  assert.equal(Plan.fromJSON(plan.toJSON()).digest(), plan.digest())
  assert.match(plan.toString(), /application-rollback/)

  const approved = plan.approve({ by: 'alice', at: platform.now, confirmProduction: plan.needsProductionConfirmation })
  assert.ok(approved instanceof ApprovedPlan)
  assert.equal(approved.approvedBy, 'alice')
  const run = await runPlan(approved, platform, { store, owner: 'test:1' })
  assert.ok(run instanceof RunReport)
  assert.equal(run.status, 'succeeded', JSON.stringify(run.toJSON()))
  assert.equal(run.runId, plan.runId)
  assert.ok(run.steps().every((s) => s.status !== 'failed'))
  const mutations = platform.operationLog().length
  assert.ok(mutations > 0)

  // another process view: reopen the state file and the journal; resuming repeats nothing
  const reopened = SimPlatform.open(state)
  const resumed = await resumeRun(run.runId, reopened, { store, owner: 'test:1' })
  assert.equal(resumed.status, 'succeeded')
  assert.equal(reopened.operationLog().length, mutations)
  const world = reopened.world()
  assert.equal(typeof world, 'object')
})

test('in-memory platform: concurrent async calls each settle', async () => {
  const p = SimPlatform.fromScenario('bad-deploy')
  const plans = await Promise.all([1, 2, 3].map(() => procedure('application-rollback', params).plan(p)))
  assert.equal(plans.length, 3)
  for (const x of plans) assert.ok(x instanceof Plan && x.procedureName === 'application-rollback')
})

test('engine: bad input', async () => {
  const p = SimPlatform.fromScenario('bad-deploy')
  const e = await rejects(assert, () => SimPlatform.fromScenario('no-such-scenario'), 'not_found', /no scenario named `no-such-scenario`/)
  assert.ok(e instanceof NotFoundError)
  await rejects(assert, () => SimPlatform.open(join(dir, 'missing.json')), 'not_found', /missing.json/)
  SimPlatform.create(join(dir, 'exists.json'), 'bad-deploy')
  await rejects(assert, () => SimPlatform.create(join(dir, 'exists.json'), 'bad-deploy'), 'conflict', /already exists/)
  await rejects(assert, () => p.advance(-1), 'invalid_input', 'seconds must be a finite number >= 0, got -1')
  await rejects(assert, () => procedure('make-coffee'), 'not_found', /make-coffee/)
  await rejects(assert, () => procedure('application-rollback', { colour: 'blue' }), 'invalid_input', /colour/)
  await rejects(assert, () => parseProcedure('{'), 'invalid_input', /./)
  await rejects(assert, () => procedure('application-rollback', params).plan('not a platform'), 'invalid_input', /./)
  await rejects(assert, () => resumeRun('run-that-does-not-exist', p), 'not_found', /run-that-does-not-exist/)
  await rejects(assert, () => triage(p, { context: 'nowhere' }), 'not_found', /nowhere/)
  await rejects(assert, () => Plan.fromJSON({ run_id: 1 }), 'invalid_input', /plan/)
  const plan = await procedure('application-rollback', params).plan(p)
  // A blank approver is core's `refused` (Plan::approve), the same kind Python raises.
  await rejects(assert, () => plan.approve({ by: '' }), 'refused', /an approval must name who approved/)
  await rejects(assert, () => runPlan({}, p), 'invalid_input', /./)
})
