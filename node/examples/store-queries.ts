// A drill's store read back (timeline, runs, a run's verified journal), a triage with the CLI's options,
// a Grafana alert, and a library procedure with typed parameters.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import {
  Incidents, SimPlatform, parseGrafana, runDrill, trafficManagement, triage,
  type JournalEntryJson, type RunRecordJson, type TrafficManagementParams,
} from 'incident-core'

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'incident-example-'))
  try {
    const store = join(dir, 'drill.sqlite')
    const drill = await runDrill('bad-deploy', { onCall: 'alice', store })
    const incidents = await Incidents.open(store)
    const timeline = await incidents.timeline(drill.incident.id)
    const runs: RunRecordJson[] = await incidents.runs({ incidentId: drill.incident.id })
    const journal: JournalEntryJson[] = await incidents.journal(runs[0].run_id)
    console.log(timeline.length, runs[0].status, journal.length)

    const platform = SimPlatform.fromScenario('bad-deploy')
    platform.advance(300)
    const report = await triage(platform, { since: '1h', logSelectors: ['app=ml-inference-api'], top: 5, callDeadline: '5s' })
    console.log(report.healthy, report.toJSON().changes?.rollouts.length)

    const alert = parseGrafana({
      receiver: 'incident', status: 'firing', orgId: 1, version: '1', groupKey: 'g',
      alerts: [{ status: 'firing', labels: { alertname: 'HighErrorRate', service: 'ml-inference-api' }, startsAt: '2024-05-03T14:00:00Z' }],
    })
    console.log(alert.alerts.length)

    const params: TrafficManagementParams = { replicas: 12, namespace: 'ml-platform' }
    const plan = await trafficManagement(params).plan(platform)
    console.log(plan.stepIds().length)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

main().catch((e: unknown) => {
  console.error(e)
  process.exit(1)
})
