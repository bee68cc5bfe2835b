// Secrets never reach a caller through an error: every message (and its `detail`) goes through core's
// redaction rules (incident_core::redact::scrub) at the boundary, as Python's exceptions do
// (python/tests/test_errors.py, test_secrets_in_messages_are_scrubbed).
import assert from 'node:assert/strict'
import { test } from 'node:test'

import { IncidentError, stakeholdersFor } from 'incident-core'

// (value echoed by the error, secret that must not appear, what must appear instead)
const cases = [
  ['postgres://app:Hunter2-Node-Secret@db.internal:5432/prod', 'Hunter2-Node-Secret', 'postgres://***@db.internal'],
  ['host=db user=app password=Hunter2-Node-Secret', 'Hunter2-Node-Secret', 'password=***'],
  ['xoxb-1234-Node-Slack-Token', 'Node-Slack-Token', '***'],
  ['AKIAIOSFODNN7EXAMPLE', 'IOSFODNN7EXAMPLE', 'AKIA***'],
]

test('a DSN password (or token) in an error message never reaches the caller', () => {
  for (const [value, secret, shown] of cases) {
    // An unknown severity is echoed in the message: a secret pasted in the wrong place.
    assert.throws(
      () => stakeholdersFor(value, true, true),
      (e) => {
        assert.ok(e instanceof IncidentError, String(e))
        assert.equal(e.code, 'invalid_input')
        assert.ok(!e.message.includes(secret), e.message)
        assert.ok(!String(e.stack).includes(secret), e.stack)
        assert.ok(e.message.includes(shown), e.message)
        return true
      },
    )
  }
})
