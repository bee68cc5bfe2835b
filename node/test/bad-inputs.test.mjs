// The shared bad-input table (tests/fixtures/bad_inputs.json): the same bad input throws the same error code
// here as in Rust (crates/incident-core/tests/bad_inputs.rs) and Python (python/tests/test_bad_inputs.py).
// The bindings only convert core's error; the kinds are decided in core.
import assert from 'node:assert/strict'
import { test } from 'node:test'

import { IncidentError, Policy, ValidationChecklist, parseAlerts, stakeholdersFor } from 'incident-core'
import { fixture } from './helpers.mjs'

const entries = {
  parse_alerts: (i) => parseAlerts(i.source, i.body),
  severity: (i) => stakeholdersFor(i.severity, true, true),
  policy: (i) => new Policy(i.overrides),
  checklist_record: (i) => new ValidationChecklist().record(i.id, i.passed),
}

const { cases } = JSON.parse(fixture('bad_inputs.json'))

test('bad_inputs.json: every case throws its kind', () => {
  assert.ok(cases.length >= 8)
  for (const c of cases) {
    const run = entries[c.entry]
    assert.ok(run, `unknown entry point ${c.entry}`)
    assert.throws(
      () => run(c.input),
      (e) => {
        assert.ok(e instanceof IncidentError, `${c.entry}: ${e}`)
        assert.equal(e.code, c.kind, `${JSON.stringify(c)}: ${e.message}`)
        assert.equal(e.retryable, false)
        return true
      },
    )
  }
})
