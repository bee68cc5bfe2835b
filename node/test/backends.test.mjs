// Real backends through `Backends.connect`: AWS on moto, the PostgreSQL team store, real PostgreSQL and
// Redis probes in triage; bad specs with their codes and messages; no secret in any message or report.
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'

import {
  Backends, SimPlatform, Policy, procedure, parseProcedure, runPlan, resumeRun, approveGate, triage, TriageReport,
  InvalidInputError,
} from 'incident-core'
import { moto, passwordOf, rejects, service } from './helpers.mjs'

const dir = mkdtempSync(join(tmpdir(), 'incident-backends-'))
after(() => rmSync(dir, { recursive: true, force: true }))

const PARAMS = { context: 'ml-platform-primary', namespace: 'ml-platform', deployment: 'ml-inference-api' }
const PROMOTE = { mode: 'promote-read-replica', region: 'us-east-1', replica_instance: 'ml-platform-secondary' }
const KEY_ID = 'AKIANODETEST00000001'
const SECRET = 'nodeFAKEsecret/never-printed+77'
const NO_INTEGRITY_CHECKS = new Policy({ integrity_checks: [] })

const pg = service('INCIDENT_TEST_PG_URL')
const redis = service('INCIDENT_TEST_REDIS_URL')
const motoUrl = service('INCIDENT_TEST_MOTO_URL')

/** `p` with a description unique to this run: run ids digest the plan, and the team store outlives runs. */
function unique(p) {
  const doc = p.toJSON()
  doc.description += ` (node ${process.hrtime.bigint()}-${process.pid})`
  return parseProcedure(JSON.stringify(doc))
}

/** Fake AWS credentials in the environment (the standard chain reads them; moto accepts anything). */
function withAwsEnv() {
  const saved = {}
  const set = { AWS_ACCESS_KEY_ID: KEY_ID, AWS_SECRET_ACCESS_KEY: SECRET }
  for (const k of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE']) {
    saved[k] = process.env[k]
    if (k in set) process.env[k] = set[k]
    else delete process.env[k]
  }
  return () => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k]
      else process.env[k] = v
    }
  }
}

async function seedReplica(m) {
  await m.rds('us-east-1', 'CreateDBInstance', {
    DBInstanceIdentifier: 'ml-platform-prod',
    Engine: 'postgres',
    DBInstanceClass: 'db.t3.micro',
    MasterUsername: 'incident',
    MasterUserPassword: 'moto-accepts-anything',
    AllocatedStorage: '20',
    BackupRetentionPeriod: '7',
  })
  await m.rds('us-east-1', 'CreateDBInstanceReadReplica', {
    DBInstanceIdentifier: 'ml-platform-secondary',
    SourceDBInstanceIdentifier: 'ml-platform-prod',
  })
}

function assertNoSecret(...texts) {
  for (const t of texts) {
    assert.ok(!t.includes(SECRET) && !t.includes(KEY_ID), t)
  }
}

// -- AWS (moto) --------------------------------------------------------------------------------------------

test('plan → approve → run → resume a replica promotion on moto, the cluster simulated', { skip: motoUrl.skip }, async () => {
  const restore = withAwsEnv()
  const m = moto(motoUrl.url)
  try {
    await m.reset()
    await seedReplica(m)
    const aws = { region: 'us-west-2', secondaryRegion: 'us-east-1', endpointUrl: m.url }
    const b = await Backends.connect({ scenario: 'database-failover', aws })
    assert.ok(b instanceof Backends)
    assert.equal(b.usesAws, true)
    assert.deepEqual(b.realProbes, [])
    assert.match(b.describe(), /databases\/dns\/cloud: aws us-west-2 → us-east-1/)
    assert.ok(b.sim instanceof SimPlatform)
    assert.equal(b.sim.scenarioName, 'database-failover')

    const plan = await procedure('database-recovery', PROMOTE).plan(b)
    const promote = plan.toJSON().steps.find((s) => s.mutating)
    assert.match(promote.summary, /promote-read-replica/)
    assert.match(JSON.stringify(promote.before), /ml-platform-prod/, 'the plan read live RDS state in moto')
    const approved = plan.approve({ by: 'ci', at: b.sim.now, confirmProduction: plan.needsProductionConfirmation })
    const run = await runPlan(approved, b, { owner: 'node:aws' })
    assert.equal(run.status, 'succeeded', JSON.stringify(run.toJSON()))
    const changed = run.toJSON().steps.filter((s) => s.changed)
    assert.ok(changed.length > 0 && changed.every((s) => s.status === 'succeeded'))
    assert.ok(!JSON.stringify(b.sim.operationLog()).includes('promote'), 'the simulator RDS was not touched')
    assert.match(await m.rds('us-east-1', 'DescribeDBInstances'), /<DBInstanceIdentifier>ml-platform-secondary</)
    const again = await resumeRun(run.runId, b, { owner: 'node:aws' })
    assert.equal(again.status, 'succeeded')
    assertNoSecret(b.describe(), JSON.stringify(plan.toJSON()), JSON.stringify(run.toJSON()), plan.toString())
  } finally {
    await m.reset()
    restore()
  }
})

test('EKS contexts come from DescribeCluster; bad EKS specs reject with invalid_input', { skip: motoUrl.skip }, async () => {
  const restore = withAwsEnv()
  const m = moto(motoUrl.url)
  await m.reset()
  try {
    await m.eksCluster('us-east-1', 'ml-secondary')
    const aws = { region: 'us-west-2', secondaryRegion: 'us-east-1', endpointUrl: motoUrl.url }
    const b = await Backends.connect({ eks: ['ml-platform-secondary=us-east-1/ml-secondary'], aws })
    assert.match(b.describe(), /^clusters: kubernetes \(context ml-platform-secondary\);/)
    // moto's made-up endpoint is unreachable here: triage is a partial report naming the EKS context.
    const report = await triage(b)
    const missing = report.toJSON().missing
    assert.ok(missing.length > 0)
    for (const x of missing) {
      assert.ok(x.reason.startsWith('EKS context ml-platform-secondary (cluster ml-secondary in us-east-1) at https://'), x.reason)
    }
    await rejects(assert, async () => triage(await Backends.connect({ eks: ['gone=us-east-1/nope'], aws })), 'not_found',
      /^EKS context gone \(cluster nope in us-east-1\): /)
    await rejects(assert, () => Backends.connect({ eks: ['just-a-name'], aws }), 'invalid_input',
      /expected CONTEXT=REGION\/CLUSTER or REGION\/CLUSTER/)
    await rejects(assert, () => Backends.connect({ eks: ['us-east-1/ml-secondary'] }), 'invalid_input', /EKS contexts need AWS \(aws\)/)
    await rejects(assert, () => Backends.connect({ scenario: 'bad-deploy', eks: ['us-east-1/c'], aws }), 'invalid_input',
      /do not mix with a simulated platform/)
    await rejects(assert, () => Backends.connect({ eks: 'us-east-1/c', aws }), 'invalid_input')
    assertNoSecret(b.describe(), JSON.stringify(report.toJSON()))
  } finally {
    await m.reset()
    restore()
  }
})

test('AWS specs: bad region, endpoint and credentials reject with a code and a clear message', { skip: motoUrl.skip }, async () => {
  const restore = withAwsEnv()
  try {
    await rejects(assert, () => Backends.connect({ scenario: 'bad-deploy', aws: { region: 'Mars', endpointUrl: motoUrl.url } }),
      'invalid_input', '"Mars" is not an AWS region name (e.g. us-east-1)')
    await rejects(assert, () => Backends.connect({ scenario: 'bad-deploy', aws: { region: 'us-west-2', endpointUrl: 'localhost:5000' } }),
      'invalid_input', 'AWS endpoint URL "localhost:5000": no scheme (expected http:// or https:// and a host, e.g. http://127.0.0.1:5000)')
    const e = await rejects(assert, () => Backends.connect({ scenario: 'bad-deploy', aws: { region: 'us-west-2', endpointUrl: 'ftp://k:pw@h' } }),
      'invalid_input', /unsupported scheme `ftp`/)
    assert.ok(!e.message.includes('pw@'))
    await rejects(assert, () => Backends.connect({ scenario: 'bad-deploy', aws: { region: 42 } }), 'invalid_input')
    await rejects(assert, () => Backends.connect({ scenario: 'bad-deploy', aws: 'us-west-2' }), 'invalid_input')
    // No credentials anywhere in the chain.
    for (const k of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY']) delete process.env[k]
    const saved = { c: process.env.AWS_CONFIG_FILE, s: process.env.AWS_SHARED_CREDENTIALS_FILE, m: process.env.AWS_EC2_METADATA_DISABLED }
    process.env.AWS_CONFIG_FILE = join(dir, 'none')
    process.env.AWS_SHARED_CREDENTIALS_FILE = join(dir, 'none')
    process.env.AWS_EC2_METADATA_DISABLED = 'true'
    try {
      await rejects(assert, () => Backends.connect({ scenario: 'bad-deploy', aws: { region: 'us-west-2', endpointUrl: motoUrl.url } }),
        'permission_denied', /^no AWS credentials found/)
    } finally {
      for (const [k, v] of [['AWS_CONFIG_FILE', saved.c], ['AWS_SHARED_CREDENTIALS_FILE', saved.s], ['AWS_EC2_METADATA_DISABLED', saved.m]]) {
        if (v === undefined) delete process.env[k]
        else process.env[k] = v
      }
    }
  } finally {
    restore()
  }
})

// -- the PostgreSQL team store ------------------------------------------------------------------------------

test('a run journaled in the PostgreSQL team store resumes from a new connection', { skip: pg.skip }, async () => {
  const state = join(dir, 'pg-sim.json')
  const b = await Backends.connect({ sim: state, scenario: 'bad-deploy', atSeconds: 300, store: pg.url })
  assert.ok(existsSync(state))
  assert.match(b.describe(), /store: postgres postgres:\/\/[^ ]*:\*\*\*@/)
  assert.ok(!b.describe().includes(passwordOf(pg.url)))
  const plan = await unique(procedure('application-rollback', PARAMS)).plan(b)
  const approved = plan.approve({ by: 'alice', at: b.sim.now, confirmProduction: plan.needsProductionConfirmation })
  const run = await runPlan(approved, b, { owner: 'node:pg' })
  assert.equal(run.status, 'succeeded', JSON.stringify(run.toJSON()))
  const mutations = b.sim.operationLog().length
  assert.ok(mutations > 0)

  // Another process's view: the state file reopened, a new pool on the same team store.
  const b2 = await Backends.connect({ sim: state, store: pg.url })
  const resumed = await resumeRun(run.runId, b2, { owner: 'node:pg' })
  assert.equal(resumed.status, 'succeeded')
  assert.equal(b2.sim.operationLog().length, mutations)
  // A SimPlatform with a postgres:// store works too.
  const again = await resumeRun(run.runId, SimPlatform.open(state), { store: pg.url, takeOver: true })
  assert.equal(again.status, 'succeeded')
  await rejects(assert, () => resumeRun('run-not-in-the-team-store', b2), 'not_found', /run-not-in-the-team-store/)
})

test('store errors carry a code and never the password', async () => {
  const url = pg.url || 'postgres://incident:hunter2@127.0.0.1:5432/incident'
  const wrong = url.replace(passwordOf(url), 'Wr0ng-Node-Secret')
  const p = SimPlatform.fromScenario('bad-deploy')
  let e = await resumeRun('run-x', p, { store: wrong }).then(() => assert.fail('resolved'), (err) => err)
  assert.ok(['permission_denied', 'unavailable'].includes(e.code), e.code)
  assert.ok(!e.message.includes('Wr0ng-Node-Secret') && e.message.includes('***'), e.message)
  e = await rejects(assert, () => Backends.connect({ scenario: 'bad-deploy', store: 'postgres://u:Unreach4ble@127.0.0.1:1/db' }), 'unavailable')
  assert.ok(!e.message.includes('Unreach4ble') && e.retryable)
  await rejects(assert, () => resumeRun('run-x', p, { store: 'mysql://root:hunter2@db/x' }), 'invalid_input',
    'store mysql://***@db/x: unsupported scheme `mysql://` (give a SQLite file path or a postgres:// URL)')
  e = await rejects(assert, () => Backends.connect({ scenario: 'bad-deploy', store: 'postgres://u:hunter2@h:notaport/db' }),
    'invalid_input', /^store: invalid PostgreSQL connection string/)
  assert.ok(!e.message.includes('hunter2'))
})

// -- real datastore probes -----------------------------------------------------------------------------------

test('triage with real PostgreSQL and Redis probes', { skip: pg.skip ?? redis.skip }, async () => {
  const b = await Backends.connect({ scenario: 'bad-deploy', atSeconds: 180, postgres: pg.url, redis: redis.url }, NO_INTEGRITY_CHECKS)
  assert.deepEqual(b.realProbes, ['postgres', 'redis'])
  assert.match(b.describe(), /probes: postgres \(real\), redis \(real\)/)
  const report = await triage(b, { namespace: 'ml-platform', logTail: 20 })
  assert.ok(report instanceof TriageReport)
  assert.ok(report.degradedDeployments.includes('ml-inference-api'))
  const stores = Object.fromEntries(report.toJSON().datastores.map((d) => [d.name, d]))
  assert.equal(stores.postgres.healthy, true, JSON.stringify(stores.postgres))
  assert.equal(stores.redis.healthy, true, JSON.stringify(stores.redis))
  const checks = new Set(Object.values(stores).flatMap((d) => d.findings.map((f) => f.check)))
  assert.ok(checks.has('connections') && checks.has('ping'), 'real probes, not the simulator\'s')
  const text = report.render() + JSON.stringify(report.toJSON())
  assert.ok(!text.includes(passwordOf(pg.url)) && !text.includes(passwordOf(redis.url)))
  // The policy's integrity checks run against the real PostgreSQL.
  const strict = new Policy({ integrity_checks: [{ name: 'never_true', sql: 'SELECT 1', max: 0 }] })
  const r = await triage(await Backends.connect({ scenario: 'bad-deploy', postgres: pg.url }, strict))
  const pgr = r.toJSON().datastores.find((d) => d.name === 'postgres')
  assert.equal(pgr.healthy, false)
  assert.ok(pgr.findings.some((f) => f.check === 'integrity:never_true' && !f.ok))
})

test('an unreachable datastore is a finding, not a rejection', async () => {
  const b = await Backends.connect({ scenario: 'bad-deploy', redis: 'redis://:Wr0ng-Redis@127.0.0.1:1' })
  const r = await triage(b)
  const d = r.toJSON().datastores.find((x) => x.name === 'redis')
  assert.equal(d.healthy, false)
  assert.ok(!JSON.stringify(r.toJSON()).includes('Wr0ng-Redis') && !b.describe().includes('Wr0ng-Redis'))
})

// -- bad specs ------------------------------------------------------------------------------------------------

test('bad specs reject with the code and the exact reason', async () => {
  await rejects(assert, () => Backends.connect({}), 'invalid_input', /^no cluster backend: give .*a simulated platform \(sim\)/)
  await rejects(assert, () => Backends.connect({ scenario: 'no-such-scenario' }), 'not_found', /no-such-scenario/)
  const p = SimPlatform.fromScenario('bad-deploy')
  await rejects(assert, () => Backends.connect({ sim: p, scenario: 'bad-deploy' }), 'invalid_input',
    'scenario applies to a state file or a new platform, not to an open SimPlatform')
  await rejects(assert, () => Backends.connect({ sim: 42 }), 'invalid_input')
  await rejects(assert, () => Backends.connect({ sim: p, atSeconds: -5 }), 'invalid_input', 'seconds must be a finite number >= 0, got -5')
  let e = await rejects(assert, () => Backends.connect({ sim: p, postgres: 'postgres://u:hunter2@h:notaport/db' }),
    'invalid_input', /^postgres: invalid PostgreSQL connection string/)
  assert.ok(!e.message.includes('hunter2'))
  e = await rejects(assert, () => Backends.connect({ sim: p, redis: 'http://:hunter2@cache:6379' }),
    'invalid_input', /^redis: invalid Redis URL: the scheme must be redis:\/\//)
  assert.ok(!e.message.includes('hunter2'))
  await rejects(assert, () => Backends.connect('bad-deploy'), 'invalid_input')
  await rejects(assert, () => triage('ml-platform-primary'), 'invalid_input', /Backends/)
  const b = await Backends.connect({ sim: p })
  const plan = await procedure('application-rollback', PARAMS).plan(b)
  const approved = plan.approve({ by: 'ci', at: p.now, confirmProduction: true })
  await rejects(assert, () => runPlan(approved, b, { store: join(dir, 'j.sqlite') }), 'invalid_input', /Backends carry their own store/)
  await rejects(assert, () => approveGate('run-x', 'gate', 'alice', b, { store: 'x.sqlite' }), 'invalid_input', /Backends carry their own store/)
  // The state-file form: created from the scenario when missing, reopened afterwards.
  const state = join(dir, 'state.json')
  const first = await Backends.connect({ sim: state, scenario: 'region-failure' })
  assert.equal(first.sim.scenarioName, 'region-failure')
  assert.match((await Backends.connect({ sim: state })).describe(), /^clusters: sim \(region-failure\)/)
  assert.ok(e instanceof InvalidInputError)
})

test('u32 options reject negative and fractional numbers instead of wrapping', async () => {
  const p = SimPlatform.fromScenario('bad-deploy')
  for (const bad of [-1, 2.5, 4294967296, Number.NaN]) {
    await rejects(assert, () => triage(p, { logTail: bad }), 'invalid_input', `logTail must be an integer from 0 to 4294967295, got ${bad}`)
  }
  const r = await triage(p, { logTail: 0 })
  assert.ok(r instanceof TriageReport)
})
