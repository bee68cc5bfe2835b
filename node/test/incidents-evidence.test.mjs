// `Incidents` evidence: preserve items (redacted, hashed into the timeline), read them back, record the
// post-mortem as evidence (the post-incident task is then done), collect the bundle and verify it, as the
// CLI's `incident postmortem ID --record` and `incident evidence collect ID --out DIR` do, with core's
// error codes.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { Incidents, IntegrityError, PostMortem, RecordedPostMortem, verifyEvidence } from '../lib/index.mjs'
import { rejects } from './helpers.mjs'

const TOKEN = 'ghp_' + 'A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8'

async function postMortemTask(incidents, id) {
  const view = (await incidents.show(id)).toJSON()
  return view.post_incident.tasks.find((t) => t.task === 'post_mortem')
}

test('evidence from declaration to a verified bundle, then a tampered one', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'incidents-evidence-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const incidents = await Incidents.open({ store: join(dir, 'incident.sqlite'), create: true })
  const id = 'INC-NODE-EV-1'
  await incidents.declare({ title: 'Checkout errors', severity: 'P1', reporter: 'customer', components: ['checkout'], id }, 'alice')
  assert.deepEqual(await incidents.evidence(id), [])

  const done = await incidents.preserve(
    id,
    [
      { name: 'manual/logs.txt', mediaType: 'text/plain', content: `auth failed token=${TOKEN}\n` },
      { name: 'manual/notes.md', mediaType: 'text/markdown', content: Buffer.from('# what we saw\n') },
    ],
    'bob',
  )
  assert.deepEqual(done.added.map((a) => a.name), ['manual/logs.txt', 'manual/notes.md'])
  assert.deepEqual(done.already_stored, [])
  assert.equal(done.events.length, 2)
  assert.equal(done.events[0].kind.type, 'evidence_added')
  assert.equal(done.events[0].actor, 'bob')

  const listed = await incidents.evidence(id)
  assert.deepEqual(listed.map((i) => i.name), ['manual/logs.txt', 'manual/notes.md'])
  assert.deepEqual(Object.keys(listed[0]).sort(), ['captured_at', 'media_type', 'name', 'sha256', 'size'])
  const logs = await incidents.evidenceItem(id, 'manual/logs.txt')
  assert.ok(Buffer.isBuffer(logs))
  assert.ok(!logs.toString('utf8').includes(TOKEN), 'the token is redacted in the stored item')
  assert.ok(logs.toString('utf8').includes('auth failed'))
  assert.equal(logs.length, listed[0].size)
  const again = await incidents.preserve(id, [{ name: 'manual/logs.txt', mediaType: 'text/plain', content: 'other' }], 'carol')
  assert.deepEqual(again.added, [])
  assert.deepEqual(again.already_stored, ['manual/logs.txt'])

  await incidents.setStatus(id, 'identified', 'bad deploy of checkout v2.3', 'bob')
  await incidents.resolve(id, 'bad deploy v2.3', 'bob')
  assert.equal((await postMortemTask(incidents, id)).done_at, null)
  const recorded = await incidents.recordPostmortem(id, 'bob', { actionItems: [{ description: 'canary checkout deploys', owner: 'bob' }] })
  assert.ok(recorded instanceof RecordedPostMortem)
  assert.ok(recorded.postmortem instanceof PostMortem)
  assert.ok(recorded.postmortem.toMarkdown().includes('canary checkout deploys'))
  assert.equal(recorded.alreadyRecorded, false)
  assert.match(recorded.message, new RegExp(`^recorded postmortem.md of ${id} \\(sha256 [0-9a-f]{64}\\)$`))
  assert.deepEqual(recorded.preserved.added.map((a) => a.name), ['postmortem.md'])
  assert.equal(recorded.toJSON().postmortem.incident_id, id)
  assert.ok((await postMortemTask(incidents, id)).done_at, 'the post_mortem task is done')
  assert.ok((await incidents.evidenceItem(id, 'postmortem.md')).toString('utf8').includes('bad deploy v2.3'))
  const kept = await incidents.recordPostmortem(id, 'carol')
  assert.equal(kept.alreadyRecorded, true)
  assert.deepEqual(kept.preserved.already_stored, ['postmortem.md'])

  const out = join(dir, 'bundle')
  const proof = await incidents.collectEvidence(id, out)
  assert.ok(proof.format)
  assert.deepEqual(readFileSync(join(out, 'evidence', 'manual', 'logs.txt')), logs)
  assert.deepEqual(verifyEvidence(out).files, proof.files)
  writeFileSync(join(out, 'evidence', 'manual', 'notes.md'), '# edited\n')
  assert.throws(
    () => verifyEvidence(out),
    (e) => {
      assert.ok(e instanceof IntegrityError, String(e))
      assert.equal(e.code, 'integrity')
      assert.ok(e.message.includes('evidence/manual/notes.md'), e.message)
      return true
    },
  )
  // Collecting again replaces the bundle, which verifies again.
  await incidents.collectEvidence(id, out)
  verifyEvidence(out)
  assert.ok(existsSync(join(out, 'evidence', 'postmortem.md')))
})

test('evidence bad input is typed', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'incidents-evidence-bad-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const incidents = await Incidents.open({ store: join(dir, 'incident.sqlite'), create: true })
  const id = 'INC-NODE-EV-BAD'
  await incidents.declare({ title: 'Search down', severity: 'P2', reporter: 'internal', id }, 'alice')
  const ok = { name: 'a.txt', mediaType: 'text/plain', content: 'x' }
  await rejects(assert, () => incidents.preserve(id, [{ ...ok, name: '  ' }], 'bob'), 'invalid_input')
  await rejects(assert, () => incidents.preserve(id, [{ ...ok, name: '../escape' }], 'bob'), 'invalid_input')
  await rejects(assert, () => incidents.preserve(id, [ok, { ...ok, content: 'y' }], 'bob'), 'invalid_input', /given twice/)
  await rejects(assert, () => incidents.preserve(id, [ok], ' '), 'invalid_input', /actor must not be empty/)
  await rejects(assert, () => incidents.preserve(id, [{ ...ok, content: Buffer.from([0xff, 0xfe]) }], 'bob'), 'invalid_input', /UTF-8/)
  await rejects(assert, () => incidents.preserve(id, [{ name: 'a.txt', mediaType: 'text/plain' }], 'bob'), 'invalid_input')
  await rejects(assert, () => incidents.preserve('INC-404', [ok], 'bob'), 'not_found')
  await rejects(assert, () => incidents.evidence('INC-404'), 'not_found')
  await rejects(assert, () => incidents.evidenceItem(id, 'nothing.txt'), 'not_found')
  await rejects(assert, () => incidents.recordPostmortem('INC-404', 'bob'), 'not_found')
  await rejects(assert, () => incidents.recordPostmortem(id, ''), 'invalid_input', /actor must not be empty/)
  await rejects(assert, () => incidents.collectEvidence('INC-404', join(dir, 'b')), 'not_found')
  await rejects(assert, () => incidents.collectEvidence(id, join(dir, 'b'), join(dir, 'no-such-key.pem')), 'invalid_input')
  assert.deepEqual(await incidents.evidence(id), [])
})
