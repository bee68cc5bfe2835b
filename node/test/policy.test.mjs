import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'

import { Policy, PolicyError } from 'incident-core'
import { fixture, fixtureNames, fixtures, rejects } from './helpers.mjs'

test('Policy: defaults are the runbook, round-trip through every format', () => {
  const p = new Policy()
  assert.equal(p.responseTimeSeconds('P0'), 15 * 60)
  for (const [text, fmt] of [[p.toToml(), 'toml'], [p.toYaml(), 'yaml'], [p.toJsonString(), 'json']]) {
    assert.deepEqual(Policy.parse(text, fmt).toJSON(), p.toJSON(), fmt)
  }
  assert.equal(JSON.parse(JSON.stringify(p)).severities.P0.response_time, p.toJSON().severities.P0.response_time)
})

test('Policy: fixture files load (default and override) in every format', () => {
  const def = new Policy().toJSON()
  for (const ext of ['toml', 'yaml', 'json']) {
    assert.deepEqual(Policy.fromFile(join(fixtures, 'policy', `default.${ext}`)).toJSON(), def, ext)
    const o = Policy.fromFile(join(fixtures, 'policy', `override.${ext}`))
    assert.notDeepEqual(o.toJSON(), def, ext)
    o.validate()
  }
})

test('Policy: every invalid fixture fails with the exact field (invalid.expected.json)', async () => {
  const expected = JSON.parse(fixture('policy', 'invalid.expected.json'))
  const files = fixtureNames('policy').filter((f) => f.startsWith('invalid-'))
  assert.deepEqual(files.sort(), Object.keys(expected).sort())
  for (const f of files) {
    const e = await rejects(assert, () => Policy.fromFile(join(fixtures, 'policy', f)), 'policy')
    assert.ok(e instanceof PolicyError)
    assert.ok(e.message.includes(expected[f]), `${f}: ${e.message}`)
  }
})

test('Policy: JSON Schema matches the shared fixture', () => {
  assert.deepEqual(Policy.jsonSchema(), JSON.parse(fixture('policy', 'policy.schema.json')))
})

test('Policy: bad input', async () => {
  await rejects(assert, () => new Policy({ declaration: { foo: 1 } }), 'policy', /policy field `declaration.foo`: unknown field `foo`/)
  await rejects(assert, () => new Policy([1]), 'invalid_input', 'policy overrides: expected an object')
  await rejects(assert, () => Policy.parse('a = 1', 'ini'), 'invalid_input', 'policy format: "ini" is not one of toml, yaml, json')
  await rejects(assert, () => Policy.parse('[severities', 'toml'), 'policy', /toml/)
  await rejects(assert, () => Policy.fromFile('/nonexistent/policy.toml'), 'policy', /nonexistent\/policy.toml: cannot read policy file/)
  await rejects(assert, () => new Policy().responseTimeSeconds('P9'), 'invalid_input', 'severity: "P9" is not one of P0, P1, P2, P3')
})
