// Evidence bundles from Node: `runDrill(scenario, { evidence: DIR })` writes what `incident drill --out DIR`
// writes, `verifyEvidence(DIR)` is `incident evidence verify DIR`, and one edited file fails it with
// `code: 'integrity'`, the CLI's error kind (python/tests/test_engine.py checks the same).
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'

import { IntegrityError, runDrill, verifyEvidence, verifyEvidenceText } from 'incident-core'
import { rejects } from './helpers.mjs'

test('evidence: write with runDrill, verify, tamper one file', async (t) => {
  const tmp = mkdtempSync(join(tmpdir(), 'incident-evidence-'))
  t.after(() => rmSync(tmp, { recursive: true, force: true }))
  const out = join(tmp, 'bundle')
  const report = await runDrill('bad-deploy', { evidence: out })
  assert.ok(report.passed, report.failures.join('; '))
  const proof = verifyEvidence(out)
  assert.equal(proof.dir, out)
  assert.ok(proof.files.includes('postmortem.md'), JSON.stringify(proof))
  assert.deepEqual(proof.signature, { status: 'unsigned' })
  assert.ok(verifyEvidenceText(out).includes('evidence bundle verified'))
  await rejects(assert, () => runDrill('bad-deploy', { evidence: join(tmp, 'other'), store: join(tmp, 'j.sqlite') }),
    'invalid_input', /exclusive/)

  const md = join(out, 'postmortem.md')
  writeFileSync(md, `${readFileSync(md, 'utf8')}\nedited afterwards\n`)
  assert.throws(
    () => verifyEvidence(out),
    (e) => {
      assert.ok(e instanceof IntegrityError, String(e))
      assert.equal(e.code, 'integrity')
      assert.ok(e.message.includes('postmortem.md: SHA-256 mismatch'), e.message)
      return true
    },
  )
})
