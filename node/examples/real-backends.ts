// Real backends: triage a real Kubernetes cluster; triage real PostgreSQL and Redis, then plan and run a
// rollback journaled in the PostgreSQL team store, with AWS (here moto) serving databases, DNS and region
// checks; a drill with progress events and an interactive approver. Type-checked by `npm run typecheck`;
// run by scripts/test-node against the services of `scripts/services start` (it says so and skips the
// parts whose services are missing).
// START README
import {
  Backends, ConflictError, procedure, resumeRun, runDrill, runPlan, triage,
  type DrillEventJson, type RunReport, type TriageReport, type TriageReportJson,
} from 'incident-core'

async function triageCluster(kubeconfig: string, kubeContext?: string): Promise<TriageReport> {
  // A real cluster for the cluster side (`kube: true` alone: $KUBECONFIG or ~/.kube/config, current context).
  const backends = await Backends.connect({ kubeconfig, kubeContext })
  console.log(backends.describe()) // clusters: kubernetes (context ...)
  return triage(backends, { namespace: 'kube-system' })
}

async function respond(state: string, pgUrl: string, redisUrl: string, awsEndpoint?: string): Promise<RunReport> {
  const backends = await Backends.connect({
    sim: state, // a simulated cluster side (or kubeconfig / kubeContext / kube: true: a real one)
    scenario: 'bad-deploy',
    atSeconds: 300,
    aws: { region: 'us-west-2', secondaryRegion: 'us-east-1', endpointUrl: awsEndpoint },
    store: pgUrl, // the PostgreSQL team store (a SQLite path works too)
    postgres: pgUrl, // real datastore probes replace the simulator's
    redis: redisUrl,
  })
  console.log(backends.describe()) // passwords show as ***
  const report: TriageReportJson = (await triage(backends)).toJSON()
  for (const d of report.datastores) console.log(d.name, d.healthy, d.latency_ms)
  const plan = await procedure('application-rollback', { deployment: 'ml-inference-api' }).plan(backends)
  const approved = plan.approve({ by: 'alice', confirmProduction: plan.needsProductionConfirmation })
  try {
    return await runPlan(approved, backends)
  } catch (e) {
    if (!(e instanceof ConflictError)) throw e
    return resumeRun(plan.runId, backends, { takeOver: true }) // journaled by an earlier attempt: continue it
  }
}

async function drill(): Promise<void> {
  const report = await runDrill('bad-deploy', {
    onEvent: (e: DrillEventJson) => {
      if (e.event === 'stage_finished') console.log(e.result.stage, `${e.result.elapsed_secs}s`, e.result.ok)
    },
    approve: async (plan) => plan.refusals().length === 0, // or ask a human in a chat thread
  })
  console.log(report.summary())
}
// END README

async function main(): Promise<void> {
  await drill()
  const kubeconfig = process.env.INCIDENT_TEST_KUBECONFIG_SA
  if (kubeconfig) {
    const cluster = await triageCluster(kubeconfig, 'incident-test-sa')
    console.log(cluster.render())
    if (cluster.context !== 'incident-test-sa' || !cluster.toJSON().api_server?.ready) throw new Error(JSON.stringify(cluster.toJSON()))
  } else {
    console.log('set INCIDENT_TEST_KUBECONFIG_SA (scripts/services start) to triage a real cluster')
  }
  const pg = process.env.INCIDENT_TEST_PG_URL
  const redis = process.env.INCIDENT_TEST_REDIS_URL
  if (!pg || !redis) {
    console.log('set INCIDENT_TEST_PG_URL and INCIDENT_TEST_REDIS_URL (scripts/services start) to run the rest')
    return
  }
  const { mkdtempSync } = await import('node:fs')
  const { tmpdir } = await import('node:os')
  const { join } = await import('node:path')
  const run = await respond(join(mkdtempSync(join(tmpdir(), 'incident-example-')), 'sim.json'), pg, redis, process.env.INCIDENT_TEST_MOTO_URL)
  console.log(run.runId, run.status)
  if (run.status !== 'succeeded') throw new Error(JSON.stringify(run.toJSON()))
}
void main()
