// Every option of core's `TriageOptions` from Node (the CLI's `incident triage` flags): since (a Date or a
// duration before the platform's now), gitRepo, logSelectors, errorPatterns, top, recentEvents,
// callDeadline, maxConcurrency; bad values are `invalid_input` naming the option.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'

import { Policy, SimPlatform, triage } from 'incident-core'
import { rejects } from './helpers.mjs'

const dir = mkdtempSync(join(tmpdir(), 'incident-triage-'))
after(() => rmSync(dir, { recursive: true, force: true }))

const platform = () => {
  const p = SimPlatform.fromScenario('bad-deploy')
  p.advance(300)
  return p
}

test('top and recentEvents bound what the report keeps', async () => {
  const p = platform()
  const all = (await triage(p)).toJSON()
  assert.ok(all.recent_events.length > 1, `${all.recent_events.length} recent events`)
  assert.ok(all.top_pods.length > 1, `${all.top_pods.length} top pods`)
  const few = (await triage(p, { top: 1, recentEvents: 1 })).toJSON()
  assert.equal(few.recent_events.length, 1)
  assert.equal(few.top_pods.length, 1)
  const what = (e) => [e.object, e.reason, e.message]
  assert.deepEqual(what(few.recent_events[0]), what(all.recent_events.at(-1)), 'the newest event is kept')
  assert.equal((await triage(p, { recentEvents: 0 })).toJSON().recent_events.length, 0)
})

test('since: recent changes from a Date or a duration before the platform clock', async () => {
  const p = platform()
  assert.equal((await triage(p)).toJSON().changes, null)
  const before = p.now.getTime()
  const ago = (await triage(p, { since: '2h' })).toJSON().changes
  const since = new Date(ago.since).getTime() + 2 * 3600 * 1000 // the platform clock the triage started at
  assert.ok(before <= since && since <= p.now.getTime(), `${before} <= ${since} <= ${p.now.getTime()}`)
  const at = new Date(p.startedAt.getTime() - 60_000)
  const changes = (await triage(p, { since: at })).toJSON().changes
  assert.equal(new Date(changes.since).getTime(), at.getTime())
  assert.ok(changes.rollouts.length >= 1, 'the bad deploy is a recent rollout')
  assert.ok(changes.rollouts.some((r) => r.deployment.endsWith('/ml-inference-api')))
})

test('gitRepo: commits since `since` are listed', async (t) => {
  try {
    execFileSync('git', ['--version'])
  } catch {
    return t.skip('git is not installed')
  }
  const repo = join(dir, 'repo')
  const git = (...args) =>
    execFileSync('git', ['-C', repo, ...args], {
      env: { ...process.env, GIT_AUTHOR_NAME: 'a', GIT_AUTHOR_EMAIL: 'a@x', GIT_COMMITTER_NAME: 'a', GIT_COMMITTER_EMAIL: 'a@x' },
    })
  execFileSync('git', ['init', '-q', repo])
  writeFileSync(join(repo, 'f'), 'x')
  git('add', 'f')
  git('commit', '-q', '-m', 'bump checkout to v2.3')
  const p = platform()
  const since = new Date(Date.now() - 3600 * 1000)
  const changes = (await triage(p, { since, gitRepo: repo })).toJSON().changes
  assert.deepEqual(changes.commits.map((c) => c.subject), ['bump checkout to v2.3'])
  assert.equal((await triage(p, { since: new Date(Date.now() + 3600 * 1000), gitRepo: repo })).toJSON().changes.commits.length, 0)
})

test('logSelectors and errorPatterns choose what the log scan reads and counts', async () => {
  const p = platform()
  const base = (await triage(p, { logDeployments: ['ml-inference-api'] })).toJSON().logs
  assert.deepEqual(base.map((l) => l.deployment), ['ml-platform/ml-inference-api'])
  assert.ok(base[0].error_lines > 0, 'the bad deploy logs errors')
  const none = (await triage(p, { logDeployments: ['ml-inference-api'], errorPatterns: ['no-such-text-zz'] })).toJSON().logs
  assert.equal(none[0].error_lines, 0)
  assert.equal(none[0].lines, base[0].lines)
  const kept = (await triage(p, { logDeployments: ['ml-inference-api'], errorPatterns: [] })).toJSON().logs
  assert.equal(kept[0].error_lines, base[0].error_lines, 'an empty list keeps the default, as the CLI')
  const sel = (await triage(p, { logDeployments: [], logSelectors: ['app=ml-inference-api'] })).toJSON().logs
  const scan = sel.find((l) => l.deployment === 'ml-platform/app=ml-inference-api')
  assert.ok(scan, JSON.stringify(sel.map((l) => l.deployment)))
  assert.equal(scan.error_lines, base[0].error_lines)
})

test('callDeadline and maxConcurrency are accepted as the CLI takes them', async () => {
  const p = platform()
  const counts = (r) => r.logs.map((l) => [l.deployment, l.pods, l.lines, l.error_lines])
  const base = (await triage(p)).toJSON()
  assert.ok(base.logs.length > 0)
  for (const options of [{ callDeadline: '5s' }, { callDeadline: 2.5 }, { maxConcurrency: 1 }, { maxConcurrency: 64 }]) {
    const r = (await triage(p, options)).toJSON()
    assert.deepEqual(counts(r), counts(base), JSON.stringify(options))
    assert.deepEqual(r.missing, [], JSON.stringify(options))
  }
  assert.ok((await triage(p, {}, new Policy())).toJSON().logs.length > 0)
})

test('bad option values are invalid_input naming the option', async () => {
  const p = platform()
  await rejects(assert, () => triage(p, { top: -1 }), 'invalid_input', 'top must be an integer from 0 to 4294967295, got -1')
  await rejects(assert, () => triage(p, { recentEvents: 2.5 }), 'invalid_input', /^recentEvents must be an integer/)
  await rejects(assert, () => triage(p, { maxConcurrency: Number.NaN }), 'invalid_input', /^maxConcurrency must be an integer/)
  await rejects(assert, () => triage(p, { since: 'yesterday' }), 'invalid_input', /^since: /)
  await rejects(assert, () => triage(p, { callDeadline: 'soon' }), 'invalid_input', /^callDeadline: /)
  await rejects(assert, () => triage(p, { callDeadline: -1 }), 'invalid_input', /callDeadline/)
  await rejects(assert, () => triage(p, { since: 42 }), 'invalid_input')
  await rejects(assert, () => triage(p, { namespace: ' ' }), 'invalid_input', /namespace/)
})
