// Shared helpers of the node tests: fixture paths (tests/fixtures is shared by Rust, Python and Node).
import { readFileSync, readdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
export const fixtures = join(root, 'tests', 'fixtures')

export function fixture(...parts) {
  return readFileSync(join(fixtures, ...parts), 'utf8')
}

export function fixtureNames(dir) {
  return readdirSync(join(fixtures, dir)).sort()
}

/** Assert `fn` throws (or rejects) an IncidentError with `code` and a message matching `message`. */
export async function rejects(assert, fn, code, message) {
  let err
  try {
    await fn()
  } catch (e) {
    err = e
  }
  assert.ok(err, `expected an error with code ${code}`)
  assert.equal(err.code, code, `code of: ${err.message}`)
  if (message instanceof RegExp) assert.match(err.message, message)
  else if (message !== undefined) assert.equal(err.message, message)
  return err
}
