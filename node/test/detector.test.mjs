import assert from 'node:assert/strict'
import { test } from 'node:test'

import { Detector, Policy } from 'incident-core'
import { rejects } from './helpers.mjs'

const t0 = Date.parse('2024-05-03T14:00:00Z')
const at = (s) => new Date(t0 + s * 1000)

test('Detector: error rate sustained for 5 minutes declares once', () => {
  const d = new Detector()
  let decl = null
  for (let s = 0; s <= 360; s += 30) {
    const r = d.observe({ service: 'api', at: at(s), signal: { kind: 'error_rate', errorRate: 0.2 }, customerFacing: true })
    if (r) {
      assert.equal(decl, null, 'fires once')
      decl = r
    }
  }
  assert.ok(decl)
  assert.equal(decl.rule, 'error_rate')
  assert.equal(decl.service, 'api')
  assert.ok(decl.declaredAt instanceof Date)
  assert.equal(decl.windowStart.getTime(), t0)
  assert.ok(decl.sustainedForSeconds >= 300)
  assert.equal(decl.classification.severity, 'P1')
  assert.equal(d.isDeclared('api', 'error_rate'), true)
  assert.equal(d.stats().declarations, 1)
  d.forget('api')
  assert.equal(d.isDeclared('api', 'error_rate'), false)
})

test('Detector: availability, latency, resolved signals; window start', () => {
  const d = new Detector(new Policy())
  d.observe({ service: 'db', at: at(0), signal: { kind: 'availability', up: false } })
  assert.equal(d.windowStart('db', 'service_unavailable').getTime(), t0)
  const obs = []
  for (let s = 60; s <= 420; s += 60) obs.push({ service: 'db', at: at(s), signal: { kind: 'availability', up: false, wholeService: true } })
  obs.push({ service: 'lat', at: at(0), signal: { kind: 'latency', observedMs: 900, baselineMs: 100 } })
  obs.push({ service: 'db', at: at(500), signal: { kind: 'resolved', rule: 'service_unavailable' } })
  const decls = d.observeAll(obs)
  assert.equal(decls.length, 1)
  assert.equal(decls[0].rule, 'service_unavailable')
  assert.equal(decls[0].classification.severity, 'P0')
  assert.equal(d.windowStart('db', 'service_unavailable'), null)
})

test('Detector: security declares immediately', () => {
  const d = new Detector()
  const r = d.observe({ service: 'auth', at: at(0), signal: { kind: 'security', detail: 'leaked key' } })
  assert.equal(r.rule, 'security')
  assert.equal(r.classification.severity, 'P0')
})

test('Detector: bad input', async () => {
  const d = new Detector()
  await rejects(assert, () => d.observe({ service: 'a', at: at(0), signal: { kind: 'bogus' } }), 'invalid_input', /signal kind "bogus"/)
  await rejects(assert, () => d.observe({ service: 'a', at: at(0), signal: { kind: 'latency', observedMs: 1 } }), 'invalid_input',
    'signal of kind "latency" needs `baselineMs`')
  await rejects(assert, () => d.observe({ service: 'a', at: 'now', signal: { kind: 'error_rate', errorRate: 1 } }), 'invalid_input', /at/)
  await rejects(assert, () => d.isDeclared('a', 'nope'), 'invalid_input',
    'declaration rule: "nope" is not one of service_unavailable, error_rate, performance_degradation, data_integrity, security')
  await rejects(assert, () => new Detector(new Policy({ declaration: { error_rate_threshold: 5 } })), 'policy', /error_rate_threshold/)
})
