"""Triage a simulated cluster and run a drill concurrently with asyncio."""

# START async_triage
import asyncio

import incident_core as ic


async def main() -> None:
    platform = ic.SimPlatform.from_scenario("bad-deploy")
    platform.advance(180)  # the bad rollout lands at 2m
    report, drill = await asyncio.gather(ic.triage_async(platform), ic.run_drill_async("bad-deploy"))
    print(report.render())
    print("degraded:", report.degraded_deployments, "| drill passed:", drill.passed)


asyncio.run(main())
# END async_triage
