"""Real backends: triage a real Kubernetes cluster; triage real PostgreSQL and Redis, then plan and run a
rollback journaled in the PostgreSQL team store, with AWS (here moto) serving databases, DNS and region
checks.

Uses the services of `scripts/services start` (INCIDENT_TEST_KUBECONFIG_SA, INCIDENT_TEST_PG_URL,
INCIDENT_TEST_REDIS_URL, INCIDENT_TEST_MOTO_URL) and AWS credentials from the environment; without them it
says so and skips that part.
"""

import os
import sys
import tempfile
from pathlib import Path

import incident_core as ic


# START real_backends
def triage_cluster(kubeconfig: Path, context: str | None = None) -> ic.TriageReport:
    # A real cluster for the cluster side (kube=True alone: $KUBECONFIG or ~/.kube/config, current context).
    backends = ic.Backends.connect(kubeconfig=kubeconfig, kube_context=context)
    print(backends.describe())  # clusters: kubernetes (context ...)
    return ic.triage(backends, namespace="kube-system")


def respond(state: Path, pg_url: str, redis_url: str, aws_endpoint: str | None) -> ic.RunReport:
    backends = ic.Backends.connect(
        sim=state,  # a simulated cluster side (or kubeconfig=/kube_context=/kube=True: a real one)
        scenario="bad-deploy",
        at=300,
        aws=ic.AwsConfig(region="us-west-2", secondary_region="us-east-1", endpoint_url=aws_endpoint),
        store=pg_url,  # the PostgreSQL team store (a SQLite path works too)
        postgres=pg_url,  # real datastore probes replace the simulator's
        redis=redis_url,
    )
    print(backends.describe())  # passwords show as ***
    print(ic.triage(backends).render())
    plan = ic.procedure("application-rollback", {"deployment": "ml-inference-api"}).plan(backends)
    approved = plan.approve("alice", confirm_production=plan.needs_production_confirmation)
    try:
        return ic.run_plan(approved, backends)
    except ic.ConflictError:  # this run id is already journaled (an earlier attempt): continue it
        return ic.resume_run(plan.run_id, backends, take_over=True)
# END real_backends


if __name__ == "__main__":
    kubeconfig = os.environ.get("INCIDENT_TEST_KUBECONFIG_SA")
    if kubeconfig:
        cluster = triage_cluster(Path(kubeconfig), "incident-test-sa")
        print(cluster.render())
        assert cluster.context == "incident-test-sa" and cluster.to_dict()["api_server"]["ready"], cluster.to_json()
    else:
        print("set INCIDENT_TEST_KUBECONFIG_SA (scripts/services start) to triage a real cluster")
    pg, redis = os.environ.get("INCIDENT_TEST_PG_URL"), os.environ.get("INCIDENT_TEST_REDIS_URL")
    if not pg or not redis:
        print("set INCIDENT_TEST_PG_URL and INCIDENT_TEST_REDIS_URL (scripts/services start) to run this example")
        sys.exit(0)
    with tempfile.TemporaryDirectory() as tmp:
        report = respond(Path(tmp) / "sim.json", pg, redis, os.environ.get("INCIDENT_TEST_MOTO_URL"))
        print(report.run_id, report.status)
        assert report.status == "succeeded", report.to_json()
