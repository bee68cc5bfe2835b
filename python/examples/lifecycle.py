"""Declare an incident, walk it through the runbook's statuses and write the post-mortem."""

from datetime import datetime, timedelta, timezone

import incident_core as ic
from incident_core.exceptions import ConflictError

t0 = datetime(2024, 5, 3, 14, 0, tzinfo=timezone.utc)
request = ic.DeclareRequest(
    "INC-2024-0042", "Inference API errors", ic.Severity.P1, "alice", components=["ml-inference-api"], impact="5% of predictions fail", detected_at=t0
)
incident = ic.Incident.declare(request, now=t0 + timedelta(minutes=1))
incident.acknowledge("alice", t0 + timedelta(minutes=2))
incident.transition(ic.Status.IDENTIFIED, "alice", t0 + timedelta(minutes=5))
try:
    incident.transition("investigating", "alice")
except ConflictError as e:
    print("refused:", e)
incident.set_root_cause("bad deploy")
incident.set_resolution("rolled back")
incident.resolve("alice", t0 + timedelta(minutes=40))
mttr: timedelta | None = incident.metrics().mttr
print(incident.channel, incident.status, mttr)
print(ic.resolved_message_for(incident))
pm = ic.build_post_mortem(incident, action_items=[{"description": "add a canary stage", "owner": "bob"}])
print(pm.to_markdown()[:200])
for drill in ic.next_drills(t0, 2):
    print(drill.kind, drill.date)
