// README quick start, CommonJS. scripts/test-npm-pack runs it in a fresh project where incident-core was
// installed from the packed tarballs, and checks that node/README.md quotes this block verbatim.
// START README
const { classify, parseAlertmanager, runDrill, IncidentError } = require('incident-core')

const c = classify({ outage: 'partial', customerFacingErrors: true })
console.log(c.severity, c.reasons.map((r) => r.rule)) // P1 [ 'partial_outage', 'customer_facing_errors' ]

const payload = {
  version: '4',
  status: 'firing',
  alerts: [{ status: 'firing', labels: { alertname: 'ServiceDown', severity: 'critical' }, startsAt: '2024-05-03T14:02:11Z' }],
}
for (const alert of parseAlertmanager(payload).alerts) console.log(alert.name, alert.classification.severity)

try {
  classify({ outage: 'total' })
} catch (e) {
  if (e instanceof IncidentError) console.log(e.code) // invalid_input
}

runDrill('bad-deploy', { onCall: 'alice' }).then((report) => console.log(report.summary()))
// END README
