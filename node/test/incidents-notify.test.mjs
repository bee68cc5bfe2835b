// `Incidents.open({ store, notifyConfig })`: the declaration, updates and the resolve go through the notifiers
// the CLI's `--notify-config` configures (the same assembly, `incident_notify::Router::for_store`), each
// outcome on the timeline. A local HTTP server started by the test plays a Slack-like Web API and a webhook
// receiver; the walk runs on SQLite, and on the team PostgreSQL store when the services run.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomUUID } from 'node:crypto'

import { Incidents } from '../lib/index.mjs'
import { rejects, service } from './helpers.mjs'

const SLACK_TOKEN = 'xoxb-node-N0TIFY-t0ken'
const HOOK_SECRET = 'hook-node-s3cret-N0TIFY'

/** A Slack-like Web API under /api and a webhook receiver at /hook, recording what they receive. */
async function startServer() {
  const slack = []
  const hooks = []
  let posted = 0
  const server = createServer((req, res) => {
    let data = ''
    req.on('data', (c) => (data += c))
    req.on('end', () => {
      const body = data ? JSON.parse(data) : {}
      const answer = (status, json) => {
        res.writeHead(status, { 'content-type': 'application/json' })
        res.end(JSON.stringify(json))
      }
      if (req.url.startsWith('/api/')) {
        const method = req.url.slice('/api/'.length)
        slack.push({ method, body, auth: req.headers.authorization })
        if (method === 'conversations.create') return answer(200, { ok: true, channel: { id: 'C0INCIDENT', name: body.name } })
        if (method === 'chat.postMessage') {
          posted += 1
          return answer(200, { ok: true, channel: 'C0INCIDENT', ts: `1700000000.${String(posted).padStart(6, '0')}` })
        }
        return answer(200, { ok: true })
      }
      if (req.url === '/hook') {
        hooks.push({ ...body, signed: (req.headers['x-incident-signature'] ?? '').startsWith('sha256=') })
        return answer(200, {})
      }
      answer(404, { error: 'no such path' })
    })
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${server.address().port}`
  return {
    url,
    slack,
    hooks,
    close: () => new Promise((resolve) => server.close(resolve)),
    // Slack for channel messages; the webhook `bridge` for what has no provider (pages, status page, the
    // post-incident ticket): the secrets file's shape.
    config: () => ({
      slack: { base_url: `${url}/api`, token: SLACK_TOKEN },
      webhooks: { bridge: { url: `${url}/hook`, secret: HOOK_SECRET } },
      fallback_webhook: 'bridge',
      retry: { max_attempts: 1 },
    }),
  }
}

async function withServer(f) {
  const server = await startServer()
  const dir = mkdtempSync(join(tmpdir(), 'incidents-notify-'))
  try {
    await f(server, dir)
  } finally {
    rmSync(dir, { recursive: true, force: true })
    await server.close()
  }
}

async function walk(incidents, server) {
  assert.deepEqual(incidents.notifiers, ['slack', 'webhook:bridge'])
  const id = `INC-NODEN-${randomUUID().slice(0, 8)}`
  const declared = (await incidents.declare({ title: 'Checkout errors reported by a customer', severity: 'P1', reporter: 'customer', id }, 'alice')).toJSON()
  assert.ok(declared.messages.length > 0, 'the declaration sends its notifications')
  for (const m of declared.messages) assert.equal(m.outcome, 'succeeded', JSON.stringify(m))

  let attempts = await incidents.update(id, 'bob', 'rolling back checkout')
  assert.ok(attempts.length > 0)
  for (const a of attempts) assert.equal(a.outcome, 'succeeded', JSON.stringify(a))
  await incidents.changeSeverity(id, 'P0', 'all regions failing', 'bob')
  attempts = await incidents.update(id, 'bob')
  for (const a of attempts) assert.equal(a.outcome, 'succeeded', JSON.stringify(a))

  const resolved = (await incidents.resolve(id, 'bad deploy v2.3', 'bob', 'rolled back')).toJSON()
  assert.ok(resolved.messages.length > 0)
  for (const m of resolved.messages) assert.equal(m.outcome, 'succeeded', JSON.stringify(m))

  // Every message is on the timeline, succeeded, with the provider's reference.
  const incident = await incidents.load(id)
  const sent = incident.timeline.events().filter((e) => e.type === 'message_sent').map((e) => e.data)
  assert.ok(sent.length >= declared.messages.length + resolved.messages.length + 2, JSON.stringify(sent))
  for (const e of sent) assert.equal(e.outcome, 'succeeded', JSON.stringify(e))
  assert.ok(sent.some((e) => e.detail.startsWith('slack:C0INCIDENT/')), JSON.stringify(sent))

  // ... and arrived: channel, posts with the bot token, the pinned ticket; the webhook got the rest, signed.
  const methods = server.slack.map((c) => c.method)
  for (const m of ['conversations.create', 'chat.postMessage', 'pins.add']) assert.ok(methods.includes(m), `${m} in ${methods}`)
  for (const c of server.slack) assert.equal(c.auth, `Bearer ${SLACK_TOKEN}`)
  const texts = server.slack.filter((c) => c.method === 'chat.postMessage').map((c) => c.body.text)
  assert.ok(texts.some((t) => t.includes('RESOLVED') && t.includes('bad deploy v2.3')), texts.join('\n---\n'))
  assert.ok(texts.some((t) => t.includes('Next Update') && t.includes('P0')), texts.join('\n---\n'))
  assert.ok(server.hooks.length > 0)
  for (const h of server.hooks) {
    assert.equal(h.incident_id, id)
    assert.ok(h.signed, 'the webhook is signed')
  }
  assert.ok(server.hooks.some((h) => h.kind === 'postincident_ticket'), server.hooks.map((h) => h.kind).join(','))
}

test('notifiers: declare, update, resolve on SQLite, from an object and from a secrets file', async () => {
  await withServer(async (server, dir) => {
    const store = join(dir, 'incident.sqlite')
    await walk(await Incidents.open({ store, create: true, notifyConfig: server.config() }), server)
    const file = join(dir, 'notify.json')
    writeFileSync(file, JSON.stringify(server.config()))
    const fromFile = await Incidents.open({ store, notifyConfig: file })
    assert.deepEqual(fromFile.notifiers, ['slack', 'webhook:bridge'])
    // The positional form still opens without notifiers (the environment only).
    assert.deepEqual((await Incidents.open(store)).notifiers, [])
  })
})

test('notifiers: declare, update, resolve on the PostgreSQL store', async (t) => {
  const pg = service('INCIDENT_TEST_PG_URL')
  if (pg.skip) return t.skip(pg.skip)
  await withServer(async (server) => {
    await walk(await Incidents.open({ store: pg.url, notifyConfig: server.config() }), server)
  })
})

test('notifiers: the INCIDENT_* environment overrides the config, as for the CLI', async () => {
  await withServer(async (server, dir) => {
    const store = join(dir, 'e.sqlite')
    const config = server.config()
    delete config.slack.token
    const e = await rejects(assert, () => Incidents.open({ store, create: true, notifyConfig: config }), 'invalid_input')
    assert.match(e.message, /slack\.token/)
    process.env.INCIDENT_SLACK_TOKEN = SLACK_TOKEN
    try {
      const incidents = await Incidents.open({ store, create: true, notifyConfig: config })
      assert.deepEqual(incidents.notifiers, ['slack', 'webhook:bridge'])
    } finally {
      delete process.env.INCIDENT_SLACK_TOKEN
    }
    // Without a provider, messages are recorded `skipped`, as before.
    const plain = await Incidents.open({ store })
    const c = (await plain.declare({ title: 'Internal report', severity: 'P3', reporter: 'internal', id: 'INC-NODEN-SKIP' }, 'alice')).toJSON()
    assert.ok(c.messages.length > 0)
    for (const m of c.messages) assert.equal(m.outcome, 'skipped')
  })
})

test('notifiers: a bad config is invalid_input naming the field, never the secret', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'incidents-notify-bad-'))
  try {
    const store = join(dir, 'bad.sqlite')
    const cases = [
      [{ slack: { token: SLACK_TOKEN, base_url: 'http://slack.example.com/api' } }, 'slack.base_url'],
      [{ slack: { token: SLACK_TOKEN, invite: 'U1' } }, 'slack.invite'],
      [{ slack: { token: SLACK_TOKEN, private_channels: SLACK_TOKEN } }, 'slack.private_channels'],
      [{ pagerduty: { routing_key: 42 } }, 'pagerduty.routing_key'],
      [{ webhooks: { ops: { url: 'https://hooks.example.com/x' } } }, 'webhooks.ops.secret'],
      [{ webhooks: { ops: { url: 'https://x.example.com', secret: HOOK_SECRET } }, fallback_webhook: 'nope' }, 'fallback_webhook'],
      [{ retry: { max_attempts: 0 } }, 'retry.max_attempts'],
      [[SLACK_TOKEN], 'expected an object'],
    ]
    for (const [notifyConfig, field] of cases) {
      const e = await rejects(assert, () => Incidents.open({ store, create: true, notifyConfig }), 'invalid_input')
      assert.ok(e.message.includes(field), `${field} in ${e.message}`)
      for (const secret of [SLACK_TOKEN, HOOK_SECRET, '42']) assert.ok(!e.message.includes(secret), e.message)
    }
    const bad = join(dir, 'notify.toml')
    writeFileSync(bad, `[slack]\ntoken = "${SLACK_TOKEN}"\nbase_url = "ftp://x"\n`)
    const e = await rejects(assert, () => Incidents.open({ store, create: true, notifyConfig: bad }), 'invalid_input')
    assert.match(e.message, /slack\.base_url/)
    assert.ok(!e.message.includes(SLACK_TOKEN))
    await rejects(assert, () => Incidents.open({ store, create: true, notifyConfig: join(dir, 'missing.toml') }), 'invalid_input', /cannot read/)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
