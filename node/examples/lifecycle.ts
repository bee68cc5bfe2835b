// An incident from declaration to post-mortem, plus a procedure planned and run on the simulator.
import {
  Incident, Detector, SimPlatform, Policy, buildPostMortem, cadenceStatus, procedure, runPlan, resumeRun, statusUpdateFor,
  type Declaration, type Severity, type IncidentStatus, type RunReport,
} from 'incident-core'

const policy = new Policy()
const detector = new Detector(policy)
const t0 = Date.parse('2024-05-03T14:00:00Z')
let declaration: Declaration | null = null
for (let s = 0; s <= 360 && !declaration; s += 30) {
  declaration = detector.observe({
    service: 'ml-inference-api',
    at: new Date(t0 + s * 1000),
    signal: { kind: 'error_rate', errorRate: 0.12 },
    customerFacing: true,
  })
}
const severity: Severity = declaration?.classification.severity ?? 'P2'

const incident = Incident.declare(
  { id: 'INC-1', title: 'ml-inference-api 5xx', severity, onCall: 'alice', customerFacing: true, impact: '12% of predictions fail' },
  policy,
  declaration?.declaredAt,
)
incident.acknowledge('alice')
const next: IncidentStatus = 'identified'
incident.transition(next, 'alice')
console.log(statusUpdateFor(incident, 'rolling back'), cadenceStatus(incident).overdue.length)

async function remediate(): Promise<void> {
  const platform = SimPlatform.fromScenario('bad-deploy')
  platform.advance(180)
  const plan = await procedure('application-rollback', {
    context: 'ml-platform-primary',
    namespace: 'ml-platform',
    deployment: 'ml-inference-api',
  }).plan(platform, policy)
  const approved = plan.approve({ by: 'alice', at: platform.now, confirmProduction: plan.needsProductionConfirmation })
  const run: RunReport = await runPlan(approved, platform, { incidentId: incident.id })
  const again: RunReport = await resumeRun(run.runId, platform)
  console.log(run.status, again.status, run.leftState)
}

async function finish(): Promise<void> {
  await remediate()
  incident.markMitigated('alice')
  incident.setRootCause('bad deploy')
  incident.setResolution('rolled back')
  incident.resolve('alice')
  console.log(buildPostMortem(incident, { actionItems: [{ description: 'add a canary stage' }] }).toMarkdown())
}
void finish()
