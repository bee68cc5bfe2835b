// `Incidents`: working a live incident in a store (SQLite, and PostgreSQL when the services run), the same
// lifecycle as the CLI's `incident declare | list | show | ack | severity | note | mitigated | resolve |
// postmortem`, with core's error codes.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomUUID } from 'node:crypto'

import { Change, Incident, IncidentView, Incidents, PostMortem } from '../lib/index.mjs'
import { rejects, service } from './helpers.mjs'

async function walk(incidents) {
  const id = `INC-NODE-${randomUUID().slice(0, 8)}`
  const declared = await incidents.declare(
    { title: 'Checkout errors reported by a customer', severity: 'P1', reporter: 'customer', components: ['checkout'], id },
    'alice',
  )
  assert.ok(declared instanceof Change)
  assert.equal(declared.outcome, 'applied')
  assert.equal(declared.incidentId, id)
  const dj = declared.toJSON()
  assert.equal(dj.operation, 'declare')
  assert.equal(dj.incident.severity, 'P1')
  assert.equal(dj.incident.impact, 'P1 (reported by customer report)')
  assert.equal(dj.incident.commander, 'alice')

  const listed = await incidents.list({ open: true, severity: 'P1', since: '1h' })
  assert.ok(listed.some((i) => i.id === id), 'the declared incident is listed')
  assert.ok((await incidents.list()).some((i) => i.id === id))

  const view = await incidents.show(id)
  assert.ok(view instanceof IncidentView)
  assert.equal(view.toJSON().incident.id, id)
  assert.equal(view.toJSON().roles.commander, 'alice')
  assert.match(view.render(), new RegExp(id))

  const ack = await incidents.ack(id, 'bob')
  assert.equal(ack.outcome, 'applied')
  assert.equal(ack.why, null)
  assert.equal(ack.toJSON().events.length, 1)
  assert.ok(ack.toJSON().incident.acknowledged_at)
  const again = await incidents.ack(id, 'carol')
  assert.equal(again.outcome, 'unchanged')
  assert.match(again.why, /already acknowledged by bob/)
  assert.equal(again.toJSON().outcome, 'unchanged')
  assert.deepEqual(again.toJSON().events, [])
  assert.match(again.render(), /unchanged/)

  const p0 = await incidents.changeSeverity(id, 'P0', 'all regions affected', 'bob')
  assert.equal(p0.toJSON().incident.severity, 'P0')
  const assigned = await incidents.assign(id, 'scribe', 'dave', 'bob')
  assert.equal(assigned.outcome, 'applied')
  assert.equal((await incidents.show(id)).toJSON().roles.scribe, 'dave')
  const status = await incidents.setStatus(id, 'identified', 'bad deploy of checkout v2.3', 'bob')
  assert.equal(status.toJSON().incident.status, 'identified')
  const note = await incidents.note(id, 'rolled back checkout to v2.2', 'bob')
  assert.equal(note.toJSON().events.length, 1)
  const updates = await incidents.update(id, 'bob')
  assert.ok(updates.length >= 1)
  const mitigated = await incidents.mitigated(id, 'bob')
  assert.ok(mitigated.toJSON().incident.mitigated_at)
  const resolved = await incidents.resolve(id, 'bad deploy v2.3', 'bob')
  assert.equal(resolved.toJSON().incident.status, 'resolved')
  assert.equal(resolved.toJSON().incident.root_cause, 'bad deploy v2.3')
  assert.ok(resolved.toJSON().messages.length >= 1, 'the final RESOLVED message is recorded')
  assert.equal(resolved.toJSON().messages[0].outcome, 'skipped')

  const loaded = await incidents.load(id)
  assert.ok(loaded instanceof Incident)
  assert.equal(loaded.status, 'resolved')
  const pm = await incidents.postmortem(id, { actionItems: [{ description: 'canary checkout deploys', owner: 'bob' }] })
  assert.ok(pm instanceof PostMortem)
  assert.equal(pm.severity, 'P0')
  assert.match(pm.toMarkdown(), /bad deploy v2\.3/)
  assert.match(pm.toMarkdown(), /canary checkout deploys/)
  assert.ok(!(await incidents.list({ open: true })).some((i) => i.id === id), 'a resolved incident is not open')

  // Bad input: core's codes.
  await rejects(assert, () => incidents.ack('INC-NOPE-404', 'bob'), 'not_found')
  await rejects(assert, () => incidents.show('INC-NOPE-404'), 'not_found')
  await rejects(assert, () => incidents.assign(id, 'scribe', '  ', 'bob'), 'invalid_input', 'person must not be empty')
  await rejects(assert, () => incidents.ack(id, ''), 'invalid_input', 'actor must not be empty')
  await rejects(assert, () => incidents.resolve(id, 'again', 'bob'), 'conflict')
  await rejects(assert, () => incidents.setStatus(id, 'resolved', 'x', 'bob'), 'invalid_input')
  await rejects(assert, () => incidents.assign(id, 'janitor', 'eve', 'bob'), 'invalid_input')
  await rejects(assert, () => incidents.changeSeverity(id, 'P9', 'x', 'bob'), 'invalid_input')
  await rejects(assert, () => incidents.list({ severity: 'P9' }), 'invalid_input')
  await rejects(assert, () => incidents.list({ since: 'soon' }), 'invalid_input')
  await rejects(assert, () => incidents.declare({ title: ' ', severity: 'P2', reporter: 'internal' }, 'bob'), 'invalid_input')
  await rejects(assert, () => incidents.declare({ title: 'x', severity: 'P2', reporter: 'twitter' }, 'bob'), 'invalid_input')
}

test('Incidents walks a live incident on a SQLite store', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'incidents-'))
  try {
    const path = join(dir, 'incident.sqlite')
    await rejects(assert, () => Incidents.open(path), 'not_found')
    const incidents = await Incidents.open(path, null, true)
    await walk(incidents)
    // The same file, opened again, holds the incidents.
    const reopened = await Incidents.open(path)
    assert.equal((await reopened.list()).length, 1)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('Incidents walks a live incident on the PostgreSQL store', async (t) => {
  const pg = service('INCIDENT_TEST_PG_URL')
  if (pg.skip) return t.skip(pg.skip)
  await walk(await Incidents.open(pg.url))
})

test('Incidents.open rejects bad stores with core codes', async () => {
  await rejects(assert, () => Incidents.open(''), 'invalid_input')
  await rejects(assert, () => Incidents.open('mysql://u:hunter2@db/x'), 'invalid_input')
  const e = await rejects(assert, () => Incidents.open('postgres://u:Unreach4ble@127.0.0.1:1/db'), 'unavailable')
  assert.ok(!e.message.includes('Unreach4ble'))
})
