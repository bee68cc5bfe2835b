import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { spawnSync } from 'node:child_process'

import * as esm from 'incident-core'
import { root } from './helpers.mjs'

const cjs = createRequire(import.meta.url)('incident-core')

test('ESM and CommonJS entry points export the same objects', () => {
  const names = Object.keys(esm).filter((k) => k !== 'default').sort()
  assert.deepEqual(names, Object.keys(cjs).sort())
  for (const n of names) assert.equal(esm[n], cjs[n], n)
})

test('one version across Cargo and package.json', () => {
  const pkg = JSON.parse(readFileSync(join(root, 'node', 'package.json'), 'utf8'))
  const cargo = readFileSync(join(root, 'Cargo.toml'), 'utf8')
  const ws = /\[workspace\.package\][^[]*?version\s*=\s*"([^"]+)"/s.exec(cargo)
  assert.equal(esm.version(), pkg.version)
  assert.equal(ws?.[1], pkg.version)
})

test('a Rust panic throws InternalError with its message and the process keeps running', () => {
  assert.throws(
    () => esm._panicForTests('forced panic 42'),
    (e) => e instanceof esm.InternalError && e.code === 'internal' && e.message === 'forced panic 42',
  )
  // still alive: the addon keeps working
  assert.equal(esm.classify({ cosmetic: true }).severity, 'P3')
  // and in a fresh process the exit is clean (no abort / exit 134)
  const r = spawnSync(
    process.execPath,
    ['-e', "const m=require('incident-core');try{m._panicForTests('x')}catch(e){console.log(e.code)};console.log('alive')"],
    { cwd: join(root, 'node'), encoding: 'utf8', env: { ...process.env, RUST_BACKTRACE: '0' } },
  )
  assert.equal(r.status, 0, r.stderr)
  assert.equal(r.stdout, 'internal\nalive\n')
})

test('error classes: one subclass per code, retryable flag', () => {
  assert.deepEqual(esm.errorCodes, [
    'policy', 'invalid_input', 'not_found', 'conflict', 'permission_denied', 'timeout', 'unavailable',
    'precondition_failed', 'refused', 'integrity', 'internal',
  ])
  const e = new esm.UnavailableError('down')
  assert.ok(e instanceof esm.IncidentError && e instanceof Error)
  assert.equal(e.code, 'unavailable')
  assert.equal(e.retryable, true)
  assert.equal(new esm.RefusedError('no').retryable, false)
})

test('wrong JS types throw invalid_input, never crash', () => {
  const cases = [
    () => esm.classify('not facts'),
    () => esm.classify(),
    () => esm.classify({ service: 5 }),
    () => esm.classify({}, 'not a policy'),
    () => esm.Incident.declare(null),
    () => new esm.Detector().observe({ service: 'a', at: 'yesterday', signal: { kind: 'error_rate', errorRate: 1 } }),
    () => esm.parseAlertmanager(42),
    () => esm.nextDrills('soon', 3),
    () => esm.channelName(5),
    () => esm.Policy.parse(1, 'toml'),
  ]
  for (const [i, f] of cases.entries()) {
    assert.throws(f, (e) => e instanceof esm.InvalidInputError && e.code === 'invalid_input' && e.message.length > 0, `case ${i}`)
  }
})
