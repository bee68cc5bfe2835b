// A real Kubernetes cluster through `Backends.connect({ kubeconfig, kubeContext, kube })`: triage and plans
// that read live state on the test control plane of `scripts/services start` (set up with kubectl as admin,
// read by the library as the RBAC-bound service account), and bad kubeconfig specs with their codes and
// messages (these need no cluster).
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'

import { Backends, InvalidInputError, NotFoundError, SimPlatform, procedure, triage } from 'incident-core'
import { rejects, service } from './helpers.mjs'

const SA_CONTEXT = 'incident-test-sa'
const ADMIN_CONTEXT = 'incident-test-admin'
const BOTH = 'two cluster backends: give either a simulated platform (sim) or a kubeconfig (kube), not both'

const dir = mkdtempSync(join(tmpdir(), 'incident-kube-'))
after(() => rmSync(dir, { recursive: true, force: true }))

const admin = service('INCIDENT_TEST_KUBECONFIG')
const sa = (process.env.INCIDENT_TEST_KUBECONFIG_SA ?? '').trim()
const ns = `node-e2e-${process.pid}`

/** kubectl as admin (the setup); throws with its stderr on failure. */
function kubectl(args, stdin) {
  const bin = process.env.KUBECTL || 'kubectl'
  const r = spawnSync(bin, ['--kubeconfig', admin.url, ...args], { input: stdin, encoding: 'utf8', timeout: 120_000 })
  if (r.error) throw new Error(`${bin}: ${r.error.message} (is kubectl on PATH?)`)
  if (r.status !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`)
  return r.stdout
}

const apply = (obj) => kubectl(['apply', '--server-side', '--field-manager=node-test', '-f', '-'], JSON.stringify(obj))

/** Deployment `api` (2 replicas); kwok crash-loops its pods when `crash`. */
function deployment(image, crash) {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'api', namespace: ns, annotations: { 'kubernetes.io/change-cause': `deploy ${image}` } },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: 'api' } },
      strategy: { rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      template: {
        metadata: { labels: { app: 'api' }, annotations: { 'incident-core.dev/kwok-crash': String(crash) } },
        spec: { containers: [{ name: 'api', image }] },
      },
    },
  }
}

/** Triage `ns` until kwok has put a pod of api:2 in CrashLoopBackOff (at most 90 s). */
async function crashLoopingTriage(b) {
  const deadline = Date.now() + 90_000
  for (;;) {
    const report = await triage(b, { namespace: ns })
    const json = report.toJSON()
    if (json.unhealthy_pods.some((p) => p.namespace === ns && p.reason === 'CrashLoopBackOff')) {
      // What was read is counted: every pod listed as unhealthy is among those read.
      assert.ok(json.scanned.pods >= json.unhealthy_pods.length, JSON.stringify(json.scanned))
      return report
    }
    assert.ok(Date.now() < deadline, `no CrashLoopBackOff in ${ns} after 90 s: ${JSON.stringify(report.toJSON())}`)
    await new Promise((r) => setTimeout(r, 500))
  }
}

const firstMutation = (plan) => plan.toJSON().steps.find((s) => s.mutating)

// -- the test control plane ------------------------------------------------------------------------------------

let namespaceCreated = false
let clusterReady = false

/** Namespace `node-e2e-<pid>` with deployment `api` rolled out as api:1, then api:2 crash-looping, and service
 * `api` (once, by the first test that needs it; deleted after the file). */
function setUpCluster() {
  if (clusterReady) return
  assert.ok(!namespaceCreated, `setting up ${ns} failed in an earlier test`)
  assert.ok(sa, 'INCIDENT_TEST_KUBECONFIG is set but INCIDENT_TEST_KUBECONFIG_SA is not: source the services env file again')
  kubectl(['create', 'namespace', ns])
  namespaceCreated = true
  // A fake node for the pods (kwok plays their status); cluster-scoped and shared, so it stays.
  apply({
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: 'kwok-node-e2e-0', annotations: { 'kwok.x-k8s.io/node': 'fake' } },
    status: {
      allocatable: { cpu: '32', memory: '256Gi', pods: '110' },
      capacity: { cpu: '32', memory: '256Gi', pods: '110' },
    },
  })
  apply(deployment('api:1', false))
  kubectl(['rollout', 'status', '-n', ns, 'deployment/api', '--timeout=90s'])
  apply(deployment('api:2', true))
  kubectl(['create', 'service', 'clusterip', 'api', '-n', ns, '--tcp=80:8080'])
  clusterReady = true
}

after(() => {
  if (namespaceCreated) kubectl(['delete', 'namespace', ns, '--ignore-not-found', '--wait=false'])
})

test('a real cluster: triage and plans read live state as the service account', { skip: admin.skip }, async () => {
  setUpCluster()
  const b = await Backends.connect({ kubeconfig: sa, kubeContext: SA_CONTEXT })
  assert.ok(b instanceof Backends)
  assert.equal(b.sim, null)
  assert.equal(b.usesAws, false)
  assert.deepEqual(b.realProbes, [])
  assert.ok(b.describe().startsWith(`clusters: kubernetes (context ${SA_CONTEXT});`), b.describe())

  const report = await crashLoopingTriage(b)
  assert.equal(report.context, SA_CONTEXT)
  const doc = report.toJSON()
  assert.equal(doc.api_server.ready, true)
  assert.deepEqual(report.degradedDeployments, ['api'])
  assert.equal(report.healthy, false)
  const degraded = doc.degraded_deployments[0]
  assert.equal(degraded.deployment.namespace, ns)
  assert.equal(degraded.deployment.revision, 2)
  assert.deepEqual(degraded.history.map((r) => [r.revision, r.images, r.change_cause]),
    [[1, ['api=api:1'], 'deploy api:1'], [2, ['api=api:2'], 'deploy api:2']])
  const text = report.render()
  assert.ok(text.includes(`Triage of ${SA_CONTEXT}`) && text.includes(`${ns}/api`) && text.includes('CrashLoopBackOff'), text)

  // The application rollback reads the live revision history: 2 (api:2) back to 1 (api:1).
  const params = { context: SA_CONTEXT, namespace: ns, deployment: 'api', health_url: 'http://127.0.0.1:9/health' }
  const rollback = firstMutation(await procedure('application-rollback', params).plan(b))
  assert.equal(rollback.id, 'rollback')
  assert.match(rollback.summary, /\(revision 2 -> 1\)$/)
  assert.deepEqual(rollback.before, { images: ['api=api:2'] })
  assert.deepEqual(rollback.after, { images: ['api=api:1'] })
  assert.equal(rollback.inverse.to_revision, 2)

  // A scale plan's before state is the live replica count, read again by every plan.
  const scale = { context: SA_CONTEXT, namespace: ns, deployment: 'api', service: 'api', replicas: '5' }
  let step = firstMutation(await procedure('traffic-management', scale).plan(b))
  assert.equal(step.id, 'scale-up')
  assert.deepEqual([step.before, step.after], [{ replicas: 2 }, { replicas: 5 }])
  kubectl(['scale', 'deployment/api', '-n', ns, '--replicas=3'])
  try {
    step = firstMutation(await procedure('traffic-management', scale).plan(b))
    assert.deepEqual(step.before, { replicas: 3 })
    assert.ok(step.summary.endsWith(`--replicas=5 -n ${ns} (was 3)`), step.summary)
  } finally {
    kubectl(['scale', 'deployment/api', '-n', ns, '--replicas=2'])
  }
  // Planning changed nothing.
  assert.equal(kubectl(['get', 'deployment/api', '-n', ns, '-o', 'jsonpath={.spec.template.spec.containers[0].image}']), 'api:2')
})

test('a real cluster: kube: true reads $KUBECONFIG and its current context', { skip: admin.skip }, async () => {
  setUpCluster()
  const saved = process.env.KUBECONFIG
  process.env.KUBECONFIG = admin.url
  let b
  try {
    b = await Backends.connect({ kube: true })
  } finally {
    if (saved === undefined) delete process.env.KUBECONFIG
    else process.env.KUBECONFIG = saved
  }
  assert.ok(b.describe().startsWith(`clusters: kubernetes (context ${ADMIN_CONTEXT});`), b.describe())
  const report = await triage(b, { namespace: ns })
  assert.equal(report.context, ADMIN_CONTEXT)
  const api = report.toJSON().degraded_deployments.find((d) => d.deployment.name === 'api')
  assert.deepEqual(api?.deployment.images, ['api=api:2'])
  const params = { context: ADMIN_CONTEXT, namespace: ns, deployment: 'api', service: 'api', replicas: '4' }
  assert.deepEqual(firstMutation(await procedure('traffic-management', params).plan(b)).before, { replicas: 2 })
})

test('a real cluster: a context missing from its kubeconfig is not_found, listing the known ones', { skip: admin.skip }, async () => {
  const e = await rejects(assert, () => Backends.connect({ kubeconfig: sa, kubeContext: ADMIN_CONTEXT }), 'not_found',
    `context "${ADMIN_CONTEXT}" is not in the kubeconfig (known: ${SA_CONTEXT})`)
  assert.ok(e instanceof NotFoundError)
})

// -- bad specs (no cluster needed) -----------------------------------------------------------------------------

/** A well-formed kubeconfig pointing at a closed port (loading it connects to nothing). */
function writeKubeconfig(name, context) {
  const path = join(dir, name)
  writeFileSync(path, JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:1' } }],
    users: [{ name: 'u', user: { token: 'not-a-secret' } }],
    contexts: [{ name: context, context: { cluster: 'c', user: 'u' } }],
    'current-context': context,
  }))
  return path
}

test('bad kube specs reject with the code and the exact reason', async () => {
  const missing = join(dir, 'no-such-kubeconfig')
  const e = await rejects(assert, () => Backends.connect({ kubeconfig: missing }), 'invalid_input', /^kubeconfig: .*no-such-kubeconfig/)
  assert.ok(e instanceof InvalidInputError && !e.retryable)
  const garbage = join(dir, 'garbage')
  writeFileSync(garbage, 'clusters: [unclosed\n')
  await rejects(assert, () => Backends.connect({ kubeconfig: garbage }), 'invalid_input', /^kubeconfig: /)

  const kc = writeKubeconfig('kubeconfig', 'ctx-a')
  await rejects(assert, () => Backends.connect({ kubeconfig: kc, kubeContext: 'nope' }), 'not_found',
    'context "nope" is not in the kubeconfig (known: ctx-a)')
  assert.match((await Backends.connect({ kubeconfig: kc })).describe(), /^clusters: kubernetes \(context ctx-a\)/)

  // kube: true and kubeContext alone read $KUBECONFIG.
  const saved = process.env.KUBECONFIG
  try {
    process.env.KUBECONFIG = kc
    assert.match((await Backends.connect({ kube: true })).describe(), /^clusters: kubernetes \(context ctx-a\)/)
    await rejects(assert, () => Backends.connect({ kubeContext: 'other' }), 'not_found', /^context "other" is not in the kubeconfig/)
    process.env.KUBECONFIG = missing
    await rejects(assert, () => Backends.connect({ kube: true }), 'invalid_input', /^kubeconfig: .*no-such-kubeconfig/)
  } finally {
    if (saved === undefined) delete process.env.KUBECONFIG
    else process.env.KUBECONFIG = saved
  }
  // `kube: false` with nothing else is no cluster backend at all.
  await rejects(assert, () => Backends.connect({ kube: false }), 'invalid_input', /^no cluster backend: /)

  // One cluster backend: the simulator or a kubeconfig, refused by the spec (incident-backends).
  const p = SimPlatform.fromScenario('bad-deploy')
  const state = join(dir, 's.json')
  for (const options of [{ sim: p, kubeconfig: kc }, { scenario: 'bad-deploy', kube: true }, { sim: state, kubeContext: 'ctx-a' }]) {
    await rejects(assert, () => Backends.connect(options), 'invalid_input', BOTH)
  }
  assert.ok(!existsSync(state), 'refused before anything was created')
  await rejects(assert, () => Backends.connect({ kubeconfig: kc, atSeconds: 60 }), 'invalid_input',
    /^atSeconds: advances a simulated platform only \(give sim or scenario\)/)
  // Wrong JS types.
  await rejects(assert, () => Backends.connect({ kubeconfig: 42 }), 'invalid_input')
  await rejects(assert, () => Backends.connect({ kubeconfig: kc, kubeContext: 5 }), 'invalid_input')
  await rejects(assert, () => Backends.connect({ kube: 'yes' }), 'invalid_input')
})
