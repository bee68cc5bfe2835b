// Shared helpers of the node tests: fixture paths (crates/incident-core/tests/fixtures is shared by Rust, Python and Node).
import { readFileSync, readdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
export const fixtures = join(root, 'crates', 'incident-core', 'tests', 'fixtures')

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

// -- the real services of `scripts/services start` (PostgreSQL 15, Redis 7, moto) -------------------------

/** A service URL from the environment, or a skip reason naming how to start it (`t.skip(reason)`). */
export function service(name) {
  const url = (process.env[name] ?? '').trim()
  return url
    ? { url, skip: undefined }
    : { url: '', skip: `${name} is not set: run \`scripts/services start\` and \`. ~/.cache/incident-core/services/env\` (scripts/test does both)` }
}

/** The password of `scheme://user:password@host...` (percent-decoded). */
export function passwordOf(url) {
  const userinfo = url.split('://')[1].split('@')[0]
  return decodeURIComponent(userinfo.split(':')[1])
}

/** moto: reset, and a tiny RDS client for seeding (moto does not check signatures). */
export function moto(url) {
  const base = url.replace(/\/$/, '')
  return {
    url: base,
    async reset() {
      const r = await fetch(`${base}/moto-api/reset`, { method: 'POST' })
      if (!r.ok) throw new Error(`moto reset: ${r.status}`)
    },
    async rds(region, action, params = {}) {
      const body = new URLSearchParams({ Action: action, Version: '2014-10-31', ...params })
      const r = await fetch(`${base}/`, {
        method: 'POST',
        body,
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `AWS4-HMAC-SHA256 Credential=AKIANODETEST/20240101/${region}/rds/aws4_request, SignedHeaders=host, Signature=0`,
        },
      })
      const text = await r.text()
      if (!r.ok) throw new Error(`moto ${action}: ${r.status} ${text}`)
      return text
    },
    /** Create EKS cluster `name` in `region` (moto makes up its endpoint and CA). */
    async eksCluster(region, name) {
      const r = await fetch(`${base}/clusters`, {
        method: 'POST',
        body: JSON.stringify({ name, roleArn: 'arn:aws:iam::123456789012:role/eks', resourcesVpcConfig: {} }),
        headers: {
          'content-type': 'application/json',
          authorization: `AWS4-HMAC-SHA256 Credential=AKIANODETEST/20240101/${region}/eks/aws4_request, SignedHeaders=host, Signature=0`,
        },
      })
      if (!r.ok) throw new Error(`moto CreateCluster: ${r.status} ${await r.text()}`)
    },
  }
}
