import assert from 'node:assert/strict'
import { test } from 'node:test'

import { nextDrills, drillOn, ValidationChecklist } from 'incident-core'
import { rejects } from './helpers.mjs'

test('nextDrills: four Fridays a month, in order', () => {
  const d = nextDrills(new Date('2024-05-01T00:00:00Z'), 8)
  assert.equal(d.length, 8)
  for (const x of d) {
    assert.equal(new Date(`${x.date}T00:00:00Z`).getUTCDay(), 5)
    assert.ok(x.startsAt instanceof Date)
    assert.ok(x.nthFriday >= 1 && x.nthFriday <= 4)
  }
  assert.equal(drillOn(d[0].date), d[0].kind)
  assert.equal(drillOn('2024-05-01'), null)
})

test('ValidationChecklist: record and report', () => {
  const c = new ValidationChecklist()
  const items = c.items()
  assert.equal(items.length, 7)
  assert.ok(items.every((i) => i.outcome === 'not_checked'))
  for (const i of items) c.record(i.id, true)
  assert.equal(c.allPassed, true)
  c.record('backups_running_successfully', false, 'last backup 3 days old')
  assert.equal(c.allPassed, false)
  assert.equal(c.items().at(-1).reason, 'last backup 3 days old')
  assert.match(c.toText(), /backup/i)
  assert.deepEqual(c.toJSON().failed, ['backups_running_successfully'])
})

test('drills: bad input', async () => {
  await rejects(assert, () => drillOn('05/01/2024'), 'invalid_input', /date "05\/01\/2024"/)
  await rejects(assert, () => drillOn('2024-02-30'), 'invalid_input', /date "2024-02-30"/)
  await rejects(assert, () => new ValidationChecklist().record('coffee_brewed', true), 'invalid_input', /checklist item: "coffee_brewed"/)
  // u32 arguments: napi would wrap -1 to 4294967295 and truncate 2.5; both are refused instead.
  const from = new Date('2024-05-01T00:00:00Z')
  for (const bad of [-1, 2.5, 4294967296, Number.NaN]) {
    await rejects(assert, () => nextDrills(from, bad), 'invalid_input', `count must be an integer from 0 to 4294967295, got ${bad}`)
  }
  assert.equal(nextDrills(from, 0).length, 0)
})

test('runValidationChecklist: every item checked on the simulator, with evidence', async () => {
  const { runValidationChecklist, SimPlatform, Policy } = await import('incident-core')
  const c = await runValidationChecklist(SimPlatform.fromScenario('bad-deploy'))
  assert.ok(c instanceof ValidationChecklist)
  // The runbook's targets name no monitoring endpoint: not checked, so not all passed; nothing failed.
  const report = c.toJSON()
  assert.deepEqual(report.failed, [])
  assert.deepEqual(report.unchecked, ['monitoring_and_alerting_operational'])
  assert.equal(c.allPassed, false)
  const services = report.items.find((i) => i.id === 'critical_services_responding')
  assert.match(services.evidence[0], /^ok: https:\/\/api\.ml-platform\.com\/health: HTTP 200/)
  // With a monitoring target the simulator answers, every item passes.
  const policy = Policy.parse('[checklist_targets]\nmonitoring = ["https://api.ml-platform.com/"]\n', 'toml')
  const all = await runValidationChecklist(SimPlatform.fromScenario('bad-deploy'), policy)
  assert.equal(all.allPassed, true, all.toText())
})
