// API parity (issue 19): every public Rust entry point of incident-core and the backend selection, one per
// line of bindings/api-surface.txt (generated from the Rust sources; a Rust test fails when it is stale),
// is either mapped to its Node binding or excluded with a reviewed reason in node/api-parity.json. This
// fails when a surface line is neither, when a map or exclude key matches no surface line (stale), and
// when a mapped name does not resolve on the installed package.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'

import * as api from 'incident-core'
import { root } from './helpers.mjs'

const surface = readFileSync(join(root, 'bindings', 'api-surface.txt'), 'utf8')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith('#'))
const parity = JSON.parse(readFileSync(join(root, 'node', 'api-parity.json'), 'utf8'))
const map = parity.map ?? {}
const exclude = parity.exclude ?? {}

/** An exclude key matches a path exactly, or as a prefix when it ends with `*`. */
const matches = (key, path) => (key.endsWith('*') ? path.startsWith(key.slice(0, -1)) : key === path)

test('the surface and the parity file are well formed', () => {
  assert.ok(surface.length > 0, 'bindings/api-surface.txt lists entry points')
  assert.deepEqual(Object.keys(parity).sort(), ['exclude', 'map'])
  assert.equal(new Set(surface).size, surface.length, 'no duplicate surface lines')
  for (const [key, reason] of Object.entries(exclude)) {
    assert.equal(typeof reason, 'string', key)
    assert.ok(reason.trim().length >= 10, `exclude ${key}: say why a Node user does not need it`)
  }
  for (const key of Object.keys(map)) {
    assert.ok(!key.endsWith('*'), `map ${key}: map exact paths; globs belong in exclude`)
    assert.ok(!(key in exclude), `${key} is both mapped and excluded`)
  }
})

/** Surface lines neither mapped nor excluded. */
const unmapped = (lines, m, x) => lines.filter((p) => !(p in m) && !Object.keys(x).some((k) => matches(k, p)))
/** Map and exclude keys that match no surface line. */
const staleKeys = (lines, m, x) => [
  ...Object.keys(m).filter((k) => !lines.includes(k)).map((k) => `map ${k}`),
  ...Object.keys(x).filter((k) => !lines.some((p) => matches(k, p))).map((k) => `exclude ${k}`),
]

test('every Rust entry point is mapped or excluded', () => {
  assert.deepEqual(unmapped(surface, map, exclude), [], 'add these to node/api-parity.json: bind them ("map") or say why not ("exclude")')
})

test('no stale keys: each map and exclude key matches a surface line', () => {
  assert.deepEqual(staleKeys(surface, map, exclude), [], 'these keys name no entry point of bindings/api-surface.txt')
})

test('the checks fail on a synthetic surface with a gap and stale keys', () => {
  const lines = ['a::f', 'a::g', 'b::C::m', 'b::C::n']
  const m = { 'a::f': 'f', 'a::gone': 'gone' }
  const x = { 'b::C::*': 'internal to C, reached through f', 'z::*': 'matches nothing' }
  assert.deepEqual(unmapped(lines, m, x), ['a::g'])
  assert.deepEqual(staleKeys(lines, m, x), ['map a::gone', 'exclude z::*'])
  assert.deepEqual(unmapped(lines, { ...m, 'a::g': 'g' }, x), [])
  assert.equal(matches('b::C::*', 'b::Cx::m'), false, 'a glob is a prefix up to its `*`, no more')
  assert.equal(matches('b::C*', 'b::Cx::m'), true)
})

/** `name` (`parseGrafana`, `Incidents.list`, `Incident.timeline`) on the installed package, or why not. */
function resolve(name) {
  const [head, ...rest] = name.split('.')
  if (!(head in api)) return `${head} is not exported`
  let v = api[head]
  for (const part of rest) {
    if (typeof v !== 'function') return `${name}: ${head} is not a class`
    const d = Object.getOwnPropertyDescriptor(v.prototype ?? {}, part)
    if (d?.get) return null // a getter: a property of every instance
    if (d) {
      v = d.value // a method
      continue
    }
    if (!['length', 'name', 'prototype'].includes(part) && Object.hasOwn(v, part)) {
      v = v[part] // a static (factory) method
      continue
    }
    return `${name}: no method, getter or static ${part}`
  }
  return typeof v === 'function' ? null : `${name} is not callable`
}

test('every mapped name resolves on the installed package', () => {
  const broken = Object.entries(map)
    .flatMap(([path, names]) => (Array.isArray(names) ? names : [names]).map((n) => [path, n]))
    .map(([path, n]) => [path, resolve(n)])
    .filter(([, why]) => why !== null)
    .map(([path, why]) => `${path}: ${why}`)
  assert.deepEqual(broken, [])
})

test('the resolver itself tells a missing binding from a present one', () => {
  assert.equal(resolve('parseGrafana'), null)
  assert.equal(resolve('Incidents.list'), null)
  assert.equal(resolve('Incidents.open'), null)
  assert.equal(resolve('Incident.timeline'), null)
  assert.equal(resolve('Timeline.length'), null)
  assert.match(resolve('Plan.name'), /no method/)
  assert.match(resolve('parseNagios'), /not exported/)
  assert.match(resolve('Incidents.frobnicate'), /no method/)
  assert.match(resolve('errorCodes'), /not callable/)
})
