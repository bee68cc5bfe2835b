// lib/wire.d.ts (the TypeScript shapes of every `toJSON()`) is generated from the Rust types' JSON Schemas
// and committed: it must be current, and real values must have the declared shape.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { test } from 'node:test'

import { render, outFile } from '../scripts/wire-types.mjs'
import { runDrill, SimPlatform, triage, Policy } from 'incident-core'

const native = createRequire(import.meta.url)('../native/index.js')
const schemas = native._wireSchemas()

test('lib/wire.d.ts is generated from the current Rust types (run `node scripts/wire-types.mjs`)', () => {
  assert.equal(readFileSync(outFile, 'utf8'), render(schemas))
})

/** Every key of `value` is a declared property of `schema`, and every required property is present. */
function conforms(name, schema, value, defs, path = name) {
  while (schema.$ref) schema = defs[schema.$ref.replace('#/$defs/', '')]
  const props = schema.properties
  if (!props || value === null || typeof value !== 'object' || Array.isArray(value)) return
  for (const k of Object.keys(value)) assert.ok(k in props, `${path}.${k} is not declared`)
  for (const k of schema.required ?? []) assert.ok(k in value, `${path}.${k} is required but missing`)
  for (const [k, v] of Object.entries(value)) {
    const s = props[k]
    const refd = s.$ref ? s : (s.anyOf ?? s.oneOf ?? []).find((x) => x.$ref)
    if (refd && v !== null && typeof v === 'object' && !Array.isArray(v)) conforms(name, refd, v, defs, `${path}.${k}`)
    const items = s.items?.$ref ? s.items : undefined
    if (items && Array.isArray(v) && v.length > 0) conforms(name, items, v[0], defs, `${path}.${k}[0]`)
  }
}

test('real values have the declared shapes', async () => {
  const events = []
  const r = await runDrill('bad-deploy', { onEvent: (e) => events.push(e) })
  const check = (name, value) => conforms(name, schemas[name], value, schemas[name].$defs ?? {})
  const report = r.toJSON()
  check('DrillReport', report)
  check('TriageReport', r.triage.toJSON())
  check('Plan', r.plan.toJSON())
  check('RunReport', r.run.toJSON())
  check('PostMortem', r.postmortem.toJSON())
  check('Timeline', r.timeline.toJSON())
  check('Incident', r.incident.toJSON().incident)
  for (const s of r.stages()) check('StageResult', s)
  for (const e of r.expectations()) check('ExpectationOutcome', e)
  check('Policy', new Policy().toJSON())
  const p = SimPlatform.fromScenario('bad-deploy')
  p.advance(180)
  check('TriageReport', (await triage(p)).toJSON())
  // The internally tagged event union: each event matches the variant its tag names.
  for (const e of events) {
    const variant = schemas.DrillEvent.oneOf.find((v) => v.properties.event.const === e.event)
    assert.ok(variant, e.event)
    conforms('DrillEvent', variant, e, schemas.DrillEvent.$defs ?? {})
  }
})
