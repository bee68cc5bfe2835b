// README example: classify an alert payload and run a simulator drill.
// Type-checked by `npm run typecheck` (tsc --noEmit --strict) against the generated declarations.
// START README
import { classify, parseAlertmanager, runDrill, IncidentError, type Classification } from 'incident-core'

// 1. Classify impact facts directly ...
const c: Classification = classify({ outage: 'partial', customerFacingErrors: true })
console.log(c.severity, c.reasons.map((r) => r.rule)) // 'P1' [ 'partial_outage', 'customer_facing_errors' ]

// ... or from an Alertmanager webhook body (string, Buffer or parsed object).
const payload = {
  version: '4',
  status: 'firing',
  alerts: [
    {
      status: 'firing',
      labels: { alertname: 'ServiceDown', service: 'ml-inference-api', severity: 'critical' },
      startsAt: '2024-05-03T14:02:11Z',
    },
  ],
}
for (const alert of parseAlertmanager(payload).alerts) {
  console.log(alert.name, alert.classification.severity, alert.observation?.at.toISOString())
}

async function drill(): Promise<void> {
  // 2. Run the `bad-deploy` drill end to end on the embedded simulator (virtual time: seconds, not minutes).
  const report = await runDrill('bad-deploy', { onCall: 'alice' })
  console.log(report.summary())
  console.log(report.incident.status, report.run?.status, report.postmortem.toMarkdown().split('\n')[0])
}
void drill()

// 3. Errors carry a stable `code`.
try {
  classify({ outage: 'total' as 'complete' })
} catch (e) {
  if (e instanceof IncidentError) console.log(e.code, e.message) // invalid_input facts.outage: ...
}
// END README
