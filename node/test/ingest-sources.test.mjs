// One function per alert source (parseGrafana, parseCloudwatch, parseCloudwatchAlarm, parseDatadog): the
// same batches as the dispatcher `parseAlerts(source, ...)` on the shared fixtures, and core's errors.
import assert from 'node:assert/strict'
import { test } from 'node:test'

import {
  parseAlerts,
  parseCloudwatch,
  parseCloudwatchAlarm,
  parseDatadog,
  parseGrafana,
  InvalidInputError,
  Policy,
} from 'incident-core'
import { fixture, fixtureNames, rejects } from './helpers.mjs'

const bySource = { grafana: parseGrafana, cloudwatch: parseCloudwatch, datadog: parseDatadog }

for (const [source, parse] of Object.entries(bySource)) {
  test(`${source}: the source's own parser agrees with parseAlerts on every fixture`, () => {
    const stems = fixtureNames(source).filter((f) => f.endsWith('.expected.json')).map((f) => f.replace('.expected.json', ''))
    assert.ok(stems.length >= 1)
    for (const stem of stems) {
      const body = fixture(source, `${stem}.json`)
      const expected = JSON.parse(fixture(source, `${stem}.expected.json`))
      for (const input of [body, Buffer.from(body), JSON.parse(body)]) {
        const batch = parse(input)
        assert.equal(batch.source, source)
        assert.deepEqual(
          batch.alerts.map((a) => [a.name ?? null, a.status, a.classification.severity ?? null]),
          expected.alerts.map((a) => [a.name, a.status, a.severity]),
          stem,
        )
        assert.deepEqual(batch, parseAlerts(source, input))
      }
      assert.deepEqual(parse(body, new Policy()), parse(body))
    }
  })

  test(`${source}: a malformed body throws InvalidInputError`, async () => {
    const e = await rejects(assert, () => parse('{not json'), 'invalid_input', /./)
    assert.ok(e instanceof InvalidInputError)
    await rejects(assert, () => parse(42), 'invalid_input', /./)
  })
}

test('cloudwatch: the bare alarm (the SNS Message) maps as its notification does', () => {
  for (const stem of ['alarm', 'ok']) {
    const body = fixture('cloudwatch', `${stem}.json`)
    const message = JSON.parse(body).Message
    const alarm = parseCloudwatchAlarm(message)
    assert.deepEqual(alarm, parseCloudwatch(body))
    assert.deepEqual(parseCloudwatchAlarm(JSON.parse(message)), alarm)
  }
  const firing = parseCloudwatchAlarm(JSON.parse(fixture('cloudwatch', 'alarm.json')).Message)
  assert.equal(firing.alerts[0].name, 'api-error-rate')
  assert.equal(firing.alerts[0].status, 'firing')
  assert.equal(firing.alerts[0].classification.severity, 'P1')
})

test('cloudwatch: core names the envelope or alarm field it rejects', async () => {
  const body = JSON.parse(fixture('cloudwatch', 'alarm.json'))
  await rejects(assert, () => parseCloudwatch({ ...body, Type: 'SubscriptionConfirmation' }), 'invalid_input', /^sns message: Token: required/)
  await rejects(assert, () => parseCloudwatch({ ...body, Type: 'Gossip' }), 'invalid_input', /^sns message: .*Type/)
  const alarm = JSON.parse(body.Message)
  await rejects(assert, () => parseCloudwatchAlarm({ ...alarm, AlarmName: ' ' }), 'invalid_input', /cloudwatch alarm: AlarmName: must not be empty/)
  await rejects(assert, () => parseCloudwatchAlarm({ ...alarm, NewStateValue: 'MAYBE' }), 'invalid_input', /cloudwatch alarm: .*NewStateValue/)
})
