// README quick start, ES modules. scripts/test-npm-pack runs it in a fresh project where incident-core was
// installed from the packed tarballs, and checks that node/README.md quotes this block verbatim.
// START README
import { classify, runDrill, IncidentError } from 'incident-core'

console.log(classify({ outage: 'complete' }).severity) // P0

try {
  classify({ outage: 'total' })
} catch (e) {
  if (e instanceof IncidentError) console.log(e.code) // invalid_input
}

const report = await runDrill('bad-deploy', { onCall: 'alice' })
console.log(report.summary())
// END README
