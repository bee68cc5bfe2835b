import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'

import { root } from './helpers.mjs'

test('README example is the tested examples/quickstart.ts block', () => {
  const example = readFileSync(join(root, 'node', 'examples', 'quickstart.ts'), 'utf8')
  const snippet = example.split('// START README\n')[1].split('// END README\n')[0]
  const readme = readFileSync(join(root, 'node', 'README.md'), 'utf8')
  const block = readme.split('```ts\n')[1].split('```\n')[0]
  assert.equal(block, snippet)
})
