import assert from 'node:assert/strict'
import { test } from 'node:test'

import { parseAlerts, parseAlertmanager, parsePagerduty, Policy, Detector } from 'incident-core'
import { fixture, fixtureNames, rejects } from './helpers.mjs'

const snake = (s) => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)

/** The Rust fixture projection (crates/incident-core/src/ingest/mod.rs `check_expectations`). */
function project(a) {
  let observation = null
  if (a.observation) {
    const { kind, ...fields } = a.observation.signal
    const sig = {}
    for (const [k, v] of Object.entries(fields)) if (v !== undefined && v !== null) sig[snake(k)] = v
    const signal = kind === 'error_rate' ? { error_rate: sig.error_rate } : { [kind]: sig }
    observation = { at: a.observation.at.getTime(), service: a.observation.service, signal }
    if (a.observation.customerFacing !== undefined && a.observation.customerFacing !== null) {
      observation.customer_facing = a.observation.customerFacing
    }
  }
  return {
    id: a.id ?? null,
    name: a.name ?? null,
    service: a.service ?? null,
    status: a.status,
    severity: a.classification.severity ?? null,
    rules: a.classification.reasons.map((r) => r.rule),
    observation,
  }
}

function normalizeExpected(a) {
  if (!a.observation) return { ...a, observation: null }
  const o = { ...a.observation, at: new Date(a.observation.at).getTime() }
  // the wire form has `whole_service: false` etc.; compare on the fields present
  return { ...a, observation: o }
}

for (const [source, parse] of [['alertmanager', parseAlertmanager], ['pagerduty', parsePagerduty]]) {
  test(`${source}: every fixture matches its .expected.json`, () => {
    const stems = fixtureNames(source).filter((f) => f.endsWith('.expected.json')).map((f) => f.replace('.expected.json', ''))
    assert.ok(stems.length >= 3)
    for (const stem of stems) {
      const expected = JSON.parse(fixture(source, `${stem}.expected.json`))
      const body = fixture(source, `${stem}.json`)
      for (const input of [body, Buffer.from(body), JSON.parse(body)]) {
        const batch = parse(input)
        assert.equal(batch.source, source)
        assert.deepEqual(batch.alerts.map(project), expected.alerts.map(normalizeExpected), stem)
        assert.equal(batch.truncatedAlerts, expected.truncated_alerts ?? 0, stem)
      }
    }
  })

  test(`${source}: invalid fixtures and malformed bodies throw invalid_input`, async () => {
    for (const f of fixtureNames(source).filter((n) => n.startsWith('invalid-'))) {
      await rejects(assert, () => parse(fixture(source, f)), 'invalid_input', /./)
    }
    await rejects(assert, () => parse('{not json'), 'invalid_input', /./)
    await rejects(assert, () => parse(42), 'invalid_input', /received Number|non of these types/)
  })
}

// The one dispatcher (core's `ingest::parse`) on every source's shared fixtures.
for (const source of ['alertmanager', 'pagerduty', 'grafana', 'cloudwatch', 'datadog']) {
  test(`parseAlerts('${source}'): every fixture matches its .expected.json`, () => {
    const stems = fixtureNames(source).filter((f) => f.endsWith('.expected.json')).map((f) => f.replace('.expected.json', ''))
    assert.ok(stems.length >= 1)
    for (const stem of stems) {
      const expected = JSON.parse(fixture(source, `${stem}.expected.json`))
      const body = fixture(source, `${stem}.json`)
      for (const input of [body, Buffer.from(body), JSON.parse(body)]) {
        const batch = parseAlerts(source, input)
        assert.equal(batch.source, source)
        assert.deepEqual(batch.alerts.map(project), expected.alerts.map(normalizeExpected), stem)
        assert.equal(batch.truncatedAlerts, expected.truncated_alerts ?? 0, stem)
      }
      assert.deepEqual(parseAlerts(source, body, new Policy()), parseAlerts(source, body))
    }
  })
}

test('parseAlerts: the aliases agree; an unknown source throws invalid_input', async () => {
  const am = fixture('alertmanager', 'firing-mixed.json')
  assert.deepEqual(parseAlertmanager(am), parseAlerts('alertmanager', am))
  const pd = fixture('pagerduty', 'batch-lifecycle.json')
  assert.deepEqual(parsePagerduty(pd), parseAlerts('pagerduty', pd))
  await rejects(assert, () => parseAlerts('nagios', am), 'invalid_input', /unknown alert source "nagios" .*alertmanager, pagerduty/)
  await rejects(assert, () => parseAlerts('grafana', '{not json'), 'invalid_input', /grafana payload/)
})

test('ingested observations feed the detector', () => {
  const batch = parseAlertmanager(fixture('alertmanager', 'firing-mixed.json'))
  const d = new Detector()
  const obs = batch.alerts.map((a) => a.observation).filter(Boolean)
  assert.ok(obs.length > 0)
  d.observeAll(obs)
  assert.ok(d.stats().samples >= 1)
})
