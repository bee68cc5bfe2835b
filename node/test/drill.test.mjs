import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'

import { runDrill, Incident, Timeline, Plan, RunReport, PostMortem, TriageReport, DrillReport } from 'incident-core'
import { rejects } from './helpers.mjs'

const dir = mkdtempSync(join(tmpdir(), 'incident-drill-'))
after(() => rmSync(dir, { recursive: true, force: true }))

test('full simulator drill: bad-deploy passes end to end', async () => {
  const started = performance.now()
  const r = await runDrill('bad-deploy', { onCall: 'alice', store: join(dir, 'journal.sqlite') })
  assert.ok(r instanceof DrillReport)
  assert.equal(r.scenario, 'bad-deploy')
  assert.equal(r.passed, true, r.failures.join('; '))
  assert.deepEqual(r.failures, [])
  const inc = r.incident
  assert.ok(inc instanceof Incident)
  assert.equal(inc.status, 'resolved')
  assert.equal(inc.commander, 'alice')
  assert.ok(['P0', 'P1'].includes(inc.severity))
  assert.equal(r.classification.severity, inc.severity)
  // Its Alertmanager alert declares (through the receiver's rule) before the detector's window fills.
  assert.deepEqual(r.declarations, [])
  assert.match(r.postmortem.toMarkdown(), /Detected via alertmanager/)
  assert.ok(r.triage instanceof TriageReport)
  assert.ok(r.plan instanceof Plan)
  assert.ok(r.run instanceof RunReport)
  assert.equal(r.run.status, 'succeeded')
  assert.ok(r.timeline instanceof Timeline)
  r.timeline.verify()
  assert.ok(r.postmortem instanceof PostMortem)
  assert.match(r.postmortem.toMarkdown(), /bad-deploy|ml-inference-api/)
  assert.ok(r.stages().length >= 4)
  assert.ok(r.expectations().every((e) => e.ok))
  assert.match(r.summary(), /PASSED/)
  assert.equal(r.toJSON().passed, true)
  // virtual time: a drill of many simulated minutes takes real seconds at most
  assert.ok(inc.resolvedAt.getTime() - inc.declaredAt.getTime() > 5 * 60_000)
  assert.ok(performance.now() - started < 60_000)
})

test('drill with the plan declined fails in the report, not as a rejection', async () => {
  const r = await runDrill('bad-deploy', { approve: false })
  assert.equal(r.passed, false)
  assert.equal(r.run, null)
  assert.ok(r.failures.length > 0)
})

test('drill: bad input', async () => {
  await rejects(assert, () => runDrill('no-such-scenario'), 'not_found', /no scenario named `no-such-scenario`/)
  await rejects(assert, () => runDrill(join(dir, 'missing.yaml')), 'invalid_input', /cannot read scenario/)
  await rejects(assert, () => runDrill('bad-deploy', { monitorForSeconds: -5 }), 'invalid_input', 'seconds must be a finite number >= 0, got -5')
  await rejects(assert, () => runDrill(42), 'invalid_input', /./)
})
