// `Incidents` store queries: an incident's verified timeline, the runs of the store (or of one incident),
// one run, and a run's verified journal — read back from the SQLite store a simulator drill wrote.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'

import { Incidents, NotFoundError, Timeline, runDrill } from 'incident-core'
import { rejects } from './helpers.mjs'

const dir = mkdtempSync(join(tmpdir(), 'incident-queries-'))
after(() => rmSync(dir, { recursive: true, force: true }))

test('timeline, runs, run and journal of a drill, read back from its store', async () => {
  const store = join(dir, 'drill.sqlite')
  const r = await runDrill('bad-deploy', { onCall: 'alice', store })
  assert.equal(r.passed, true, r.failures.join('; '))
  const id = r.incident.id
  const incidents = await Incidents.open(store)

  const timeline = await incidents.timeline(id)
  assert.ok(timeline instanceof Timeline)
  assert.equal(timeline.incidentId, id)
  timeline.verify()
  assert.deepEqual(timeline.toJSON(), (await incidents.load(id)).timeline.toJSON())
  assert.ok(timeline.events().some((e) => e.type === 'declared'))
  assert.ok(timeline.events().some((e) => e.type === 'resolved'))

  const mine = await incidents.runs({ incidentId: id })
  assert.equal(mine.length, 1)
  const [run] = mine
  assert.equal(run.run_id, r.run.runId)
  assert.equal(run.incident_id, id)
  assert.equal(run.procedure, r.run.procedure)
  assert.equal(run.status, 'succeeded')
  assert.ok(run.approval, 'the run was approved')
  assert.equal(run.plan.run_id, run.run_id)
  assert.deepEqual((await incidents.show(id)).toJSON().runs.map((s) => s.run_id), [run.run_id])
  assert.deepEqual(await incidents.runs(), mine)
  assert.deepEqual(await incidents.runs({}), mine)
  assert.deepEqual(await incidents.runs({ incidentId: 'INC-NOPE-404' }), [])
  assert.deepEqual(await incidents.run(run.run_id), run)

  const journal = await incidents.journal(run.run_id)
  const steps = r.run.steps().filter((s) => s.status === 'succeeded').map((s) => s.id)
  assert.ok(steps.length >= 3)
  assert.ok(journal.length >= 2 * steps.length, `${journal.length} entries for ${steps.length} steps`)
  journal.forEach((e, i) => {
    assert.equal(e.seq, i)
    assert.equal(e.run_id, run.run_id)
    assert.equal(e.prev_hash, i === 0 ? '0'.repeat(64) : journal[i - 1].hash)
    assert.match(e.hash, /^[0-9a-f]{64}$/)
    assert.ok(['intent', 'outcome'].includes(e.phase))
  })
  for (const step of steps) {
    const phases = journal.filter((e) => e.step_id === step).map((e) => e.phase)
    assert.ok(phases.includes('intent') && phases.includes('outcome'), `${step}: ${phases}`)
    assert.ok(phases.indexOf('intent') < phases.lastIndexOf('outcome'), `${step}: intent before outcome`)
  }

  // Core's codes for what is not there.
  const e = await rejects(assert, () => incidents.run('run-nope'), 'not_found', /run-nope/)
  assert.ok(e instanceof NotFoundError)
  await rejects(assert, () => incidents.journal('run-nope'), 'not_found', /run-nope/)
  await rejects(assert, () => incidents.timeline('INC-NOPE-404'), 'not_found')
  await rejects(assert, () => incidents.timeline(' '), 'invalid_input')
  await rejects(assert, () => incidents.runs({ incidentId: 42 }), 'invalid_input')
})

test('a fresh store has no runs', async () => {
  const incidents = await Incidents.open({ store: join(dir, 'empty.sqlite'), create: true })
  assert.deepEqual(await incidents.runs(), [])
  await rejects(assert, () => incidents.journal('run-1'), 'not_found')
})
