// The shared bad-input table (crates/incident-core/tests/fixtures/bad_inputs.json): the same bad input throws the same error code
// here as in Rust (crates/incident-core/tests/bad_inputs.rs) and Python (python/tests/test_bad_inputs.py).
// The bindings only convert core's error; the kinds are decided in core.
import assert from 'node:assert/strict'
import { test } from 'node:test'

import {
  Detector, Incident, IncidentError, Policy, SimPlatform, ValidationChecklist, parseAlerts, runDrill, stakeholdersFor, triage,
} from 'incident-core'
import { fixture } from './helpers.mjs'

const entries = {
  parse_alerts: (i) => parseAlerts(i.source, i.body),
  severity: (i) => stakeholdersFor(i.severity, true, true),
  policy: (i) => new Policy(i.overrides),
  checklist_record: (i) => new ValidationChecklist().record(i.id, i.passed),
  actor: (i) => declared().acknowledge(i.actor, t0),
  on_call: (i) => runDrill('bad-deploy', { onCall: i.on_call }),
  observation: (i) => new Detector().observe({ service: i.service, at: t0, signal: { kind: 'error_rate', errorRate: 0.1 } }),
  stage_budget: (i) => new Policy().stageBudgetSeconds(i.procedure, i.stage),
  triage: (i) => triage(SimPlatform.fromScenario('bad-deploy'), { namespace: i.namespace }),
  policy_format: (i) => Policy.parse(i.text, i.format),
  signal: (i) =>
    new Detector().observe({
      service: 'api',
      at: t0,
      signal: i.kind === 'error_rate' ? { kind: 'error_rate', errorRate: i.value } : { kind: 'latency', observedMs: 10, baselineMs: i.value },
    }),
}

const t0 = new Date('2026-12-06T12:00:00Z')

function declared() {
  return Incident.declare({ id: 'INC-9', title: 'x', severity: 'P2', onCall: 'alice', startedAt: t0 }, undefined, t0)
}

const { cases } = JSON.parse(fixture('bad_inputs.json'))

test('bad_inputs.json: every case throws (or rejects with) its kind', async () => {
  assert.ok(cases.length >= 15)
  for (const c of cases) {
    const run = entries[c.entry]
    assert.ok(run, `unknown entry point ${c.entry}`)
    // Async entry points (a drill, triage) reject; the others throw.
    await assert.rejects(
      async () => run(c.input),
      (e) => {
        assert.ok(e instanceof IncidentError, `${c.entry}: ${e}`)
        assert.equal(e.code, c.kind, `${JSON.stringify(c)}: ${e.message}`)
        assert.equal(e.retryable, false)
        return true
      },
    )
  }
})
