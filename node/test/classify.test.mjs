import assert from 'node:assert/strict'
import { test } from 'node:test'

import { classify, classificationRules, Policy, InvalidInputError } from 'incident-core'
import { rejects } from './helpers.mjs'

test('classify: the runbook matrix with the rules that fired', () => {
  const c = classify({ outage: 'partial', customerFacingErrors: true })
  assert.equal(c.severity, 'P1')
  assert.equal(c.insufficient, false)
  assert.deepEqual(c.reasons.map((r) => r.rule), ['partial_outage', 'customer_facing_errors'])
  assert.deepEqual(c.deciding, ['partial_outage', 'customer_facing_errors'])
  assert.deepEqual(classify({ outage: 'complete', cosmetic: true }).deciding, ['complete_outage'])
  assert.match(c.summary, /P1/)
  assert.equal(classify({ outage: 'complete' }).severity, 'P0')
  assert.equal(classify({ performanceDegradationPct: 30 }).severity, 'P2')
  assert.equal(classify({ performanceDegradationPct: 60 }).severity, 'P1')
  assert.equal(classify({ documentation: true }).severity, 'P3')
})

test('classify: no impact is insufficient, not an error', () => {
  const c = classify({})
  assert.equal(c.severity, undefined)
  assert.equal(c.insufficient, true)
  assert.deepEqual(c.reasons, [])
})

test('classify: policy degradation threshold', () => {
  const p = new Policy({ declaration: { latency_degradation_threshold: 0.2 } })
  assert.equal(classify({ performanceDegradationPct: 30 }, p).severity, 'P1')
})

test('classificationRules lists every rule', () => {
  const rules = classificationRules()
  assert.equal(rules.length, 14)
  assert.equal(rules[0].severity, 'P0')
})

test('classify: bad input', async () => {
  await rejects(assert, () => classify({ outage: 'total' }), 'invalid_input',
    'facts.outage: "total" is not one of none, partial, complete')
  await rejects(assert, () => classify({ performanceDegradationPct: -5 }), 'invalid_input', /performance_degradation_pct/)
  await rejects(assert, () => classify({ cosmetc: true }), 'invalid_input', /unknown field `cosmetc`/)
  await rejects(assert, () => classify({ n: 1n }), 'invalid_input', /BigInt/)
  const e = await rejects(assert, () => classify({ cosmetic: 'yes' }), 'invalid_input', /bool|Boolean/i)
  assert.ok(e instanceof InvalidInputError)
})

test('classify fast path equals the native object path', async () => {
  const { createRequire } = await import('node:module')
  const native = createRequire(import.meta.url)('../native/index.js')
  const p = new Policy({ declaration: { latency_degradation_threshold: 0.2 } })
  const cases = [{}, { cosmetic: true }, { outage: 'complete', revenueImpact: true, cosmetic: true },
    { performanceDegradationPct: 30 }, { performanceDegradationPct: 60, service: 'x', customerFacing: true }]
  for (const f of cases) {
    for (const pol of [undefined, p]) {
      const c = classify(f, pol)
      assert.ok(Object.isFrozen(c) && Object.isFrozen(c.reasons))
      assert.deepEqual(JSON.parse(JSON.stringify(c)), JSON.parse(JSON.stringify(native.classify(f, pol))), JSON.stringify(f))
    }
  }
})
