// Plan signatures from Node, as `incident plan --signing-key` / `incident run`: Plan.sign(keyFile),
// Plan.verify(policy?, keyFile?), and runPlan / resumeRun refusing an unsigned or tampered plan when the
// policy's `signing.trusted_keys` (or RunOptions.signingKey) names a key.
import assert from 'node:assert/strict'
import { generateKeyPairSync } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'

import { Plan, Policy, SimPlatform, procedure, runPlan } from 'incident-core'
import { rejects } from './helpers.mjs'

const dir = mkdtempSync(join(tmpdir(), 'incident-signing-'))
after(() => rmSync(dir, { recursive: true, force: true }))

/** An Ed25519 key file (PKCS#8 PEM, as `incident keygen` writes) and its `ed25519:BASE64` public key. */
function keypair(name) {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519')
  const path = join(dir, `${name}.pem`)
  writeFileSync(path, privateKey.export({ type: 'pkcs8', format: 'pem' }))
  const raw = publicKey.export({ type: 'spki', format: 'der' }).subarray(-32)
  return { path, pub: `ed25519:${raw.toString('base64')}` }
}

const platform = () => {
  const p = SimPlatform.fromScenario('bad-deploy')
  p.advance(180)
  return p
}

test('a policy that trusts a key runs only plans signed by it', async () => {
  const ops = keypair('ops')
  const other = keypair('other')
  const policy = new Policy({ signing: { trusted_keys: [ops.pub] } })
  const p = platform()

  const unsigned = await procedure('application-rollback').plan(p, policy)
  await rejects(assert, () => unsigned.verify(policy), 'precondition_failed')
  unsigned.verify() // the default policy trusts no key: only the digest is checked
  const approve = (plan) => plan.approve({ by: 'alice', at: p.now, confirmProduction: plan.needsProductionConfirmation })
  await rejects(assert, () => runPlan(approve(unsigned), p, {}, policy), 'precondition_failed')

  const byOther = await procedure('application-rollback').plan(p, policy)
  byOther.sign(other.path)
  await rejects(assert, () => byOther.verify(policy), 'precondition_failed')

  const signed = await procedure('application-rollback').plan(p, policy)
  signed.sign(ops.path)
  signed.verify(policy)
  assert.ok(signed.toJSON().signature, 'the wire JSON carries the signature')
  const again = Plan.fromJSON(signed.toJSON())
  again.verify(policy)
  const report = await runPlan(approve(again), p, {}, policy)
  assert.equal(report.status, 'succeeded')
})

test('RunOptions.signingKey trusts its public half, as `incident run --signing-key`', async () => {
  const ops = keypair('ops2')
  const p = platform()
  const plan = await procedure('application-rollback').plan(p)
  const approved = plan.approve({ by: 'alice', at: p.now, confirmProduction: plan.needsProductionConfirmation })
  await rejects(assert, () => runPlan(approved, p, { signingKey: ops.path }), 'precondition_failed')
  await rejects(assert, () => plan.verify(undefined, ops.path), 'precondition_failed')
  plan.sign(ops.path)
  plan.verify(undefined, ops.path)
  const signed = plan.approve({ by: 'alice', at: p.now, confirmProduction: plan.needsProductionConfirmation })
  assert.equal((await runPlan(signed, p, { signingKey: ops.path })).status, 'succeeded')
})

test('a tampered signed plan is refused; bad key files are invalid_input', async () => {
  const ops = keypair('ops3')
  const policy = new Policy({ signing: { trusted_keys: [ops.pub] } })
  const p = platform()
  const plan = await procedure('application-rollback').plan(p, policy)
  plan.sign(ops.path)
  const notAKey = join(dir, 'not-a-key.pem')
  writeFileSync(notAKey, '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n')
  await rejects(assert, () => plan.sign(notAKey), 'invalid_input', /not-a-key\.pem/)
  await rejects(assert, () => plan.sign(join(dir, 'missing.pem')), 'invalid_input', /cannot read the signing key/)
  await rejects(assert, () => runPlan(plan.approve({ by: 'a', at: p.now, confirmProduction: true }), p, { signingKey: notAKey }, policy), 'invalid_input')
  const json = plan.toJSON()
  json.steps[0].summary = `${json.steps[0].summary} (edited)`
  let tampered
  try {
    tampered = Plan.fromJSON(json)
  } catch (e) {
    assert.equal(e.code, 'precondition_failed', e.message)
    return
  }
  await rejects(assert, () => tampered.verify(policy), 'precondition_failed')
})
