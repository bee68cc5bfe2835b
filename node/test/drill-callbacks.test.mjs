// Drill progress events (`onEvent`) and interactive approvers (`approve: (plan) => boolean | Promise`).
import assert from 'node:assert/strict'
import { test } from 'node:test'

import { runDrill, Plan, InvalidInputError } from 'incident-core'
import { rejects } from './helpers.mjs'

test('progress events arrive in order, all before the Promise settles', async () => {
  const events = []
  const r = await runDrill('bad-deploy', { onEvent: (e) => events.push(e) })
  const delivered = events.length
  assert.equal(r.passed, true, r.failures.join('; '))
  assert.deepEqual(events[0], { event: 'stage_started', stage: 'detection', budget: null, at: events[0].at })
  assert.match(events[0].at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/)
  const started = events.filter((e) => e.event === 'stage_started').map((e) => e.stage)
  const finished = events.filter((e) => e.event === 'stage_finished').map((e) => e.result.stage)
  // Stages may overlap (the status page is posted during first response); each starts and finishes once.
  assert.deepEqual([...started].sort(), [...finished].sort())
  assert.deepEqual(finished, r.stages().map((s) => s.stage))
  assert.ok(events.some((e) => e.event === 'log' && typeof e.text === 'string'))
  await new Promise((resolve) => setImmediate(resolve))
  assert.equal(events.length, delivered, 'no event after the Promise settled')
})

test('a function approver sees the typed plan and decides, sync or async', async () => {
  const seen = []
  const r = await runDrill('bad-deploy', {
    approver: 'bob',
    approve: (plan) => {
      seen.push(plan)
      return true
    },
  })
  assert.equal(r.passed, true, r.failures.join('; '))
  assert.equal(seen.length, 1)
  assert.ok(seen[0] instanceof Plan)
  assert.equal(seen[0].procedureName, 'application-rollback')
  assert.equal(seen[0].digest(), r.plan.digest())

  const a = await runDrill('bad-deploy', {
    approve: async (plan) => {
      await new Promise((resolve) => setTimeout(resolve, 10))
      return plan.refusals().length === 0
    },
  })
  assert.equal(a.passed, true)

  const declined = await runDrill('bad-deploy', { approve: () => false, monitorForSeconds: 60 })
  assert.equal(declined.passed, false)
  assert.equal(declined.run, null)
  const lateNo = await runDrill('bad-deploy', { approve: async () => false, monitorForSeconds: 60 })
  assert.equal(lateNo.run, null)
})

test('errors thrown or rejected by the callbacks reach the caller unchanged', async () => {
  class Nope extends Error {}
  const thrown = new Nope('not approving')
  await assert.rejects(runDrill('bad-deploy', { approve: () => { throw thrown } }), (e) => e === thrown)
  const rejected = new RangeError('async approver failed')
  await assert.rejects(runDrill('bad-deploy', { approve: async () => { throw rejected } }), (e) => e === rejected)
  await assert.rejects(runDrill('bad-deploy', { approve: () => Promise.reject('a string') }), (e) => e === 'a string')
  const plain = { reason: 'a plain object' }
  await assert.rejects(runDrill('bad-deploy', { approve: () => { throw plain } }), (e) => e === plain)

  let calls = 0
  const broken = new TypeError('observer broke')
  await assert.rejects(
    runDrill('bad-deploy', { onEvent: () => { calls += 1; throw broken } }),
    (e) => e === broken,
  )
  assert.equal(calls, 1, 'not called again after throwing')
})

test('a non-boolean decision and wrong option types are invalid_input', async () => {
  await rejects(assert, () => runDrill('bad-deploy', { approve: () => 'yes' }), 'invalid_input',
    'approve must return a boolean or a Promise of one, got string')
  await rejects(assert, () => runDrill('bad-deploy', { approve: async () => 1 }), 'invalid_input',
    'approve must return a boolean or a Promise of one, got number')
  const e = await rejects(assert, () => runDrill('bad-deploy', { approve: 'yes' }), 'invalid_input')
  assert.ok(e instanceof InvalidInputError)
  await rejects(assert, () => runDrill('bad-deploy', { onEvent: 'print' }), 'invalid_input')
})
