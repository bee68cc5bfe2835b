import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'

import { root } from './helpers.mjs'

const readme = readFileSync(join(root, 'node', 'README.md'), 'utf8')
const blocks = readme.split('```ts\n').slice(1).map((b) => b.split('```\n')[0])

for (const name of ['quickstart.ts', 'real-backends.ts']) {
  test(`README shows the tested examples/${name} block`, () => {
    const example = readFileSync(join(root, 'node', 'examples', name), 'utf8')
    const snippet = example.split('// START README\n')[1].split('// END README\n')[0]
    assert.ok(blocks.includes(snippet), `README lacks the current ${name} block`)
  })
}
