// The library procedures with typed parameters (trafficManagement, applicationRollback, databaseRecovery,
// regionFailure, databaseCorruption): the same procedures as `procedure(name, stringParams)` (core's
// procedure_from_spec, the CLI's `--param`), and core's errors naming the parameter.
import assert from 'node:assert/strict'
import { test } from 'node:test'

import {
  applicationRollback,
  databaseCorruption,
  databaseRecovery,
  procedure,
  Procedure,
  regionFailure,
  trafficManagement,
  InvalidInputError,
  Policy,
  SimPlatform,
} from 'incident-core'
import { rejects } from './helpers.mjs'

const same = (a, b, what) => assert.deepEqual(a.toJSON(), b.toJSON(), what)

test('no parameters: the runbook defaults, as procedure(name)', () => {
  for (const [fn, name] of [
    [trafficManagement, 'traffic-management'],
    [applicationRollback, 'application-rollback'],
    [databaseRecovery, 'database-recovery'],
    [regionFailure, 'region-failure'],
    [databaseCorruption, 'database-corruption'],
  ]) {
    const p = fn()
    assert.ok(p instanceof Procedure)
    assert.equal(p.name, name)
    same(p, procedure(name), name)
    same(fn({}), procedure(name), name)
    same(fn(null, new Policy()), procedure(name, {}, new Policy()), name)
  }
})

test('typed values become the string parameters core reads', () => {
  const tm = trafficManagement({ replicas: 12, degradedPod: 'api-7f9c', namespace: 'ml-canary' })
  same(tm, procedure('traffic-management', { replicas: '12', degraded_pod: 'api-7f9c', namespace: 'ml-canary' }))
  assert.notDeepEqual(tm.toJSON(), trafficManagement().toJSON())
  assert.match(JSON.stringify(tm.toJSON()), /"replicas":12/)

  same(
    applicationRollback({ deployment: 'checkout', toRevision: 3, minReady: 2, maxErrors: 5, rolloutTimeout: '2m' }),
    procedure('application-rollback', { deployment: 'checkout', to_revision: '3', min_ready: '2', max_errors: '5', rollout_timeout: '2m' }),
  )

  const at = new Date('2024-05-03T13:55:00Z')
  const pitr = databaseRecovery({ sourceInstance: 'db-a', targetInstance: 'db-b', restoreTime: at, availableTimeout: '30m' })
  same(pitr, procedure('database-recovery', { source_instance: 'db-a', target_instance: 'db-b', restore_time: '2024-05-03T13:55:00Z', available_timeout: '30m' }))
  same(pitr, databaseRecovery({ sourceInstance: 'db-a', targetInstance: 'db-b', restoreTime: '2024-05-03T13:55:00Z', availableTimeout: '30m' }))
  same(
    databaseRecovery({ mode: 'promote-read-replica', replicaInstance: 'db-r' }),
    procedure('database-recovery', { mode: 'promote-read-replica', replica_instance: 'db-r' }),
  )

  same(
    regionFailure({ replicas: 30, snapshot: 'snap-1', restoreTarget: 'db-restored', zoneId: 'Z9', recordName: 'api.example.com' }),
    procedure('region-failure', { replicas: '30', snapshot: 'snap-1', restore_target: 'db-restored', zone_id: 'Z9', record_name: 'api.example.com' }),
  )

  const dc = databaseCorruption({ deployment: ['writer-a', 'writer-b'], restoreTime: at, probe: 'postgres' })
  same(dc, procedure('database-corruption', { deployment: 'writer-a,writer-b', restore_time: '2024-05-03T13:55:00Z', probe: 'postgres' }))
  same(dc, databaseCorruption({ deployment: 'writer-a,writer-b', restoreTime: at, probe: 'postgres' }))
  // null and undefined fields are absent.
  same(trafficManagement({ replicas: undefined, service: null }), trafficManagement())
})

test('bad values: core rejects them, naming the parameter', async () => {
  await rejects(assert, () => trafficManagement({ replicas: 2.5 }), 'invalid_input', /procedure traffic-management param `replicas`: "2\.5" is not a number/)
  await rejects(assert, () => trafficManagement({ replicas: -1 }), 'invalid_input', /param `replicas`/)
  await rejects(assert, () => applicationRollback({ rolloutTimeout: 'soon' }), 'invalid_input', /param `rollout_timeout`/)
  await rejects(assert, () => applicationRollback({ rolloutTimeout: 120 }), 'invalid_input', /param `rollout_timeout`: .*missing unit/)
  await rejects(assert, () => databaseRecovery({ mode: 'magic' }), 'invalid_input', /param `mode`: "magic"/)
  await rejects(assert, () => databaseRecovery({ restoreTime: 'yesterday' }), 'invalid_input', /param `restore_time`/)
  const e = await rejects(assert, () => trafficManagement({ replcias: 3 }), 'invalid_input', /unknown param\(s\) replcias \(known: .*replicas/)
  assert.ok(e instanceof InvalidInputError)
  await rejects(assert, () => trafficManagement({ replicas: { n: 3 } }), 'invalid_input', /param `replicas`: expected a string, a number, a Date or an array of strings/)
  await rejects(assert, () => regionFailure({ replicas: true }), 'invalid_input', /param `replicas`/)
  await rejects(assert, () => trafficManagement('replicas=3'), 'invalid_input')
})

test('a typed procedure plans on the simulator', async () => {
  const platform = SimPlatform.fromScenario('bad-deploy')
  const plan = await applicationRollback({ minReady: 1 }).plan(platform)
  assert.equal(plan.procedureName, 'application-rollback')
  assert.ok(plan.stepIds().length >= 3)
})

test('procedure(name, params) takes the same typed values and camelCase keys', async () => {
  same(procedure('traffic-management', { replicas: 12, degradedPod: 'api-7f9c' }), trafficManagement({ replicas: 12, degradedPod: 'api-7f9c' }))
  same(procedure('traffic-management', { replicas: '12', degraded_pod: 'api-7f9c' }), trafficManagement({ replicas: 12, degradedPod: 'api-7f9c' }))
  const at = new Date('2024-05-03T13:55:00Z')
  same(procedure('database-corruption', { deployment: ['a', 'b'], restoreTime: at }), databaseCorruption({ deployment: 'a,b', restoreTime: at }))
  same(procedure('regional-failover', { replicas: 30 }), regionFailure({ replicas: 30 }), 'a deprecated name means the current one')
  await rejects(assert, () => procedure('traffic-management', { replicas: 2.5 }), 'invalid_input', /param `replicas`/)
  await rejects(assert, () => procedure('make-coffee', { replicas: 1 }), 'not_found', /make-coffee/)
})
