#!/usr/bin/env node
// Generates lib/wire.d.ts: TypeScript interfaces of the wire JSON that `toJSON()` and the report methods
// return (snake_case keys, RFC 3339 strings: the CLI's `-o json` and the Python package's `to_json()`).
// The shapes come from the Rust types themselves: the addon's test hook `_wireSchemas()` serves their
// JSON Schemas (schemars), and this script renders them. Every name gets a `Json` suffix, so the wire
// shapes (`PlanJson`) never clash with the classes (`Plan`) or the camelCase objects (`Metrics`).
//
//   node scripts/wire-types.mjs           rewrite lib/wire.d.ts
//   node scripts/wire-types.mjs --check   exit 1 when lib/wire.d.ts is stale (test/wire.test.mjs does this)
import { readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
export const outFile = join(here, '..', 'lib', 'wire.d.ts')

const suffix = (name) => `${name}Json`

function refName(ref) {
  const m = /^#\/\$defs\/(.+)$/.exec(ref)
  if (!m) throw new Error(`unsupported $ref ${ref}`)
  return suffix(decodeURIComponent(m[1]).replace(/[^A-Za-z0-9_]/g, '_'))
}

function doc(text, indent) {
  if (!text) return ''
  const lines = String(text).replace(/\*\//g, '*\\/').split('\n')
  if (lines.length === 1) return `${indent}/** ${lines[0]} */\n`
  return `${indent}/**\n${lines.map((l) => `${indent} *${l ? ` ${l}` : ''}`).join('\n')}\n${indent} */\n`
}

const ident = /^[A-Za-z_$][A-Za-z0-9_$]*$/
const key = (k) => (ident.test(k) ? k : JSON.stringify(k))

function union(parts) {
  const seen = [...new Set(parts)]
  if (seen.includes('unknown')) return 'unknown'
  return seen.length === 1 ? seen[0] : seen.map((p) => (p.includes('=>') ? `(${p})` : p)).join(' | ')
}

/** The TypeScript type of schema `s`; `indent` is the indentation of nested object members. */
function ts(s, indent) {
  if (s === true || s === undefined || (typeof s === 'object' && Object.keys(s).length === 0)) return 'unknown'
  if (s === false) return 'never'
  if (s.$ref) {
    const t = refName(s.$ref)
    return s.type === 'null' ? `${t} | null` : t
  }
  if ('const' in s) return JSON.stringify(s.const)
  if (s.enum) return union(s.enum.map((v) => JSON.stringify(v)))
  if (s.oneOf || s.anyOf) {
    const base = { ...s }
    delete base.oneOf
    delete base.anyOf
    delete base.description
    const variants = (s.oneOf ?? s.anyOf).map((v) => ts(v, indent))
    // An object's own properties shared by every variant (rare in schemars output): intersect.
    if (base.properties) return `${ts(base, indent)} & (${union(variants)})`
    return union(variants)
  }
  if (s.allOf) return s.allOf.length === 1 ? ts(s.allOf[0], indent) : s.allOf.map((x) => ts(x, indent)).join(' & ')
  const type = s.type ?? (s.properties || s.additionalProperties !== undefined ? 'object' : undefined)
  if (Array.isArray(type)) return union(type.map((t) => ts({ ...s, type: t }, indent)))
  switch (type) {
    case 'string':
      return 'string'
    case 'integer':
    case 'number':
      return 'number'
    case 'boolean':
      return 'boolean'
    case 'null':
      return 'null'
    case 'array':
      if (s.prefixItems) return `[${s.prefixItems.map((x) => ts(x, indent)).join(', ')}]`
      return `Array<${ts(s.items, indent)}>`
    case 'object':
      return object(s, indent)
    case undefined:
      return 'unknown'
    default:
      throw new Error(`unsupported schema type ${type}`)
  }
}

function object(s, indent) {
  const props = s.properties ?? {}
  const required = new Set(s.required ?? [])
  const ap = s.additionalProperties
  const names = Object.keys(props)
  if (names.length === 0) return ap === false ? 'Record<string, never>' : `Record<string, ${ts(ap, indent)}>`
  const inner = `${indent}  `
  let out = '{\n'
  for (const name of names) {
    out += doc(props[name].description, inner)
    out += `${inner}${key(name)}${required.has(name) ? '' : '?'}: ${ts(props[name], inner)}\n`
  }
  if (ap !== undefined && ap !== false) out += `${inner}[key: string]: ${ts(ap, inner)}\n`
  return `${out}${indent}}`
}

function declaration(name, s) {
  const t = ts(s, '')
  const head = doc(s.description ?? s.title, '')
  const isObject = t.startsWith('{\n') && !s.oneOf && !s.anyOf && !s.allOf
  return isObject ? `${head}export interface ${name} ${t}\n` : `${head}export type ${name} = ${t}\n`
}

/** Render the declarations of `schemas` (`{ TypeName: root JSON Schema }`). */
export function render(schemas) {
  const defs = new Map()
  const put = (name, schema) => {
    const prev = defs.get(name)
    const norm = JSON.stringify({ ...schema, $schema: undefined, $defs: undefined, title: undefined })
    if (prev !== undefined && prev.norm !== norm) throw new Error(`two different schemas named ${name}`)
    defs.set(name, { schema, norm })
  }
  for (const [name, root] of Object.entries(schemas)) {
    for (const [d, s] of Object.entries(root.$defs ?? {})) put(d, s)
    const body = { ...root }
    delete body.$schema
    delete body.$defs
    put(name, body)
  }
  let out = `// Generated by scripts/wire-types.mjs from the JSON Schemas of the Rust types (schemars). Do not edit:
// run \`node scripts/wire-types.mjs\` after changing a wire type; test/wire.test.mjs fails while this is stale.
//
// The wire JSON of the values \`toJSON()\` and the report methods return: snake_case keys, RFC 3339
// timestamp strings, durations as strings such as "15m" — the CLI's \`-o json\` and the Python package's
// \`to_json()\`. Each name carries a \`Json\` suffix (\`PlanJson\` is what \`Plan.toJSON()\` returns).

`
  for (const name of [...defs.keys()].sort()) out += `\n${declaration(suffix(name), defs.get(name).schema)}`
  return out
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const native = createRequire(import.meta.url)('../native/index.js')
  const text = render(native._wireSchemas())
  if (process.argv.includes('--check')) {
    if (readFileSync(outFile, 'utf8') !== text) {
      console.error('lib/wire.d.ts is stale: run `node scripts/wire-types.mjs`')
      process.exit(1)
    }
  } else {
    writeFileSync(outFile, text)
    console.log(`wrote ${outFile}`)
  }
}
