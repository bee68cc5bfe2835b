"""A real Kubernetes cluster through ``Backends.connect(kubeconfig=..., kube_context=..., kube=...)``: triage
and plans that read live state on the test control plane of `scripts/services start` (set up with kubectl as
admin, read by the library as the RBAC-bound service account), and bad kubeconfig specs with their exception
classes and messages (these need no cluster)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import service_url

import incident_core as ic

SA_CONTEXT = "incident-test-sa"
ADMIN_CONTEXT = "incident-test-admin"
BOTH = "two cluster backends: give either a simulated platform (sim) or a kubeconfig (kube), not both"


@dataclass
class Cluster:
    """The test control plane: kubectl as admin for setup, the service account's kubeconfig for the library."""

    admin: str
    sa: str
    namespace: str

    def kubectl(self, *args: str, stdin: str | None = None) -> str:
        kubectl = os.environ.get("KUBECTL", "kubectl")
        assert shutil.which(kubectl), f"{kubectl} is not on PATH (scripts/control-plane needs it too)"
        out = subprocess.run(
            [kubectl, "--kubeconfig", self.admin, *args], input=stdin, capture_output=True, text=True, timeout=120
        )
        assert out.returncode == 0, f"kubectl {args}: {out.stderr}"
        return out.stdout

    def apply(self, obj: dict[str, Any]) -> None:
        self.kubectl("apply", "--server-side", "--field-manager=pytest", "-f", "-", stdin=json.dumps(obj))


def deployment(ns: str, image: str, crash: bool) -> dict[str, Any]:
    """Deployment `api` (2 replicas); kwok crash-loops its pods when `crash`."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "api", "namespace": ns, "annotations": {"kubernetes.io/change-cause": f"deploy {image}"}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "api"}},
            "strategy": {"rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": {
                "metadata": {"labels": {"app": "api"}, "annotations": {"incident-core.dev/kwok-crash": str(crash).lower()}},
                "spec": {"containers": [{"name": "api", "image": image}]},
            },
        },
    }


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """Namespace `py-e2e-<pid>` with deployment `api` rolled out as api:1, then api:2 crash-looping, and
    service `api`; deleted afterwards. Skipped when the control plane's variables are not set."""
    admin = service_url("INCIDENT_TEST_KUBECONFIG")
    sa = os.environ.get("INCIDENT_TEST_KUBECONFIG_SA", "").strip()
    assert sa, "INCIDENT_TEST_KUBECONFIG is set but INCIDENT_TEST_KUBECONFIG_SA is not: source the services env file again"
    c = Cluster(admin=admin, sa=sa, namespace=f"py-e2e-{os.getpid()}")
    ns = c.namespace
    c.kubectl("create", "namespace", ns)
    try:
        # A fake node for the pods (kwok plays their status); cluster-scoped and shared, so it stays.
        c.apply(
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {"name": "kwok-py-e2e-0", "annotations": {"kwok.x-k8s.io/node": "fake"}},
                "status": {
                    "allocatable": {"cpu": "32", "memory": "256Gi", "pods": "110"},
                    "capacity": {"cpu": "32", "memory": "256Gi", "pods": "110"},
                },
            }
        )
        c.apply(deployment(ns, "api:1", crash=False))
        c.kubectl("rollout", "status", "-n", ns, "deployment/api", "--timeout=90s")
        c.apply(deployment(ns, "api:2", crash=True))
        c.kubectl("create", "service", "clusterip", "api", "-n", ns, "--tcp=80:8080")
        yield c
    finally:
        c.kubectl("delete", "namespace", ns, "--wait=false")


def crash_looping_triage(b: ic.Backends, ns: str) -> ic.TriageReport:
    """Triage `ns` until kwok has put a pod of api:2 in CrashLoopBackOff (at most 90 s)."""
    deadline = time.monotonic() + 90
    while True:
        report = ic.triage(b, namespace=ns)
        pods = report.to_dict()["unhealthy_pods"]
        if any(p["namespace"] == ns and p["reason"] == "CrashLoopBackOff" for p in pods):
            # What was read is counted: every pod listed as unhealthy is among those read.
            assert report.to_dict()["scanned"]["pods"] >= len(pods) > 0
            return report
        assert time.monotonic() < deadline, f"no CrashLoopBackOff in {ns} after 90 s: {report.to_json()}"
        time.sleep(0.5)


def first_mutation(plan: ic.Plan) -> dict[str, Any]:
    step: dict[str, Any] = next(s for s in json.loads(plan.to_json())["steps"] if s["mutating"])
    return step


def test_triage_and_plans_read_the_live_cluster(cluster: Cluster) -> None:
    ns = cluster.namespace
    b = ic.Backends.connect(kubeconfig=Path(cluster.sa), kube_context=SA_CONTEXT)
    assert b.sim is None and not b.uses_aws and b.real_probes == []
    assert b.describe().startswith(f"clusters: kubernetes (context {SA_CONTEXT});"), b.describe()
    assert repr(b).startswith("Backends(clusters: kubernetes (context incident-test-sa)")

    report = crash_looping_triage(b, ns)
    assert report.context == SA_CONTEXT
    doc = report.to_dict()
    assert doc["api_server"]["ready"] is True, doc["api_server"]
    assert report.degraded_deployments == ["api"]
    degraded = doc["degraded_deployments"][0]
    assert degraded["deployment"]["namespace"] == ns and degraded["deployment"]["revision"] == 2
    history = [(r["revision"], r["images"], r["change_cause"]) for r in degraded["history"]]
    assert history == [(1, ["api=api:1"], "deploy api:1"), (2, ["api=api:2"], "deploy api:2")]
    assert not report.healthy
    text = report.render()
    assert f"Triage of {SA_CONTEXT}" in text and f"{ns}/api" in text and "CrashLoopBackOff" in text, text

    # The application rollback reads the live revision history: 2 (api:2) back to 1 (api:1).
    params = {"context": SA_CONTEXT, "namespace": ns, "deployment": "api", "health_url": "http://127.0.0.1:9/health"}
    rollback = first_mutation(ic.procedure("application-rollback", params).plan(b))
    assert rollback["id"] == "rollback" and "(revision 2 -> 1)" in rollback["summary"], rollback
    assert rollback["before"] == {"images": ["api=api:2"]} and rollback["after"] == {"images": ["api=api:1"]}
    assert rollback["inverse"]["to_revision"] == 2

    # A scale plan's before state is the live replica count, read again by every plan.
    scale = {"context": SA_CONTEXT, "namespace": ns, "deployment": "api", "service": "api", "replicas": "5"}
    step = first_mutation(ic.procedure("traffic-management", scale).plan(b))
    assert step["id"] == "scale-up" and step["before"] == {"replicas": 2} and step["after"] == {"replicas": 5}, step
    cluster.kubectl("scale", "deployment/api", "-n", ns, "--replicas=3")
    try:
        step = first_mutation(ic.procedure("traffic-management", scale).plan(b))
        assert step["before"] == {"replicas": 3}, step
        assert "--replicas=5 -n " + ns + " (was 3)" in step["summary"], step["summary"]
    finally:
        cluster.kubectl("scale", "deployment/api", "-n", ns, "--replicas=2")
    # Nothing was changed by planning.
    image = cluster.kubectl("get", "deployment/api", "-n", ns, "-o", "jsonpath={.spec.template.spec.containers[0].image}")
    assert image == "api:2"


async def test_async_connect_with_the_default_kubeconfig(cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> None:
    # kube=True: $KUBECONFIG (here the admin's) and its current context.
    monkeypatch.setenv("KUBECONFIG", cluster.admin)
    b = await ic.Backends.connect_async(kube=True)
    assert b.describe().startswith(f"clusters: kubernetes (context {ADMIN_CONTEXT});"), b.describe()
    report = await ic.triage_async(b, namespace=cluster.namespace)
    assert report.context == ADMIN_CONTEXT and report.to_dict()["api_server"]["ready"] is True
    deployments = {d["deployment"]["name"]: d for d in report.to_dict()["degraded_deployments"]}
    assert deployments["api"]["deployment"]["images"] == ["api=api:2"], deployments
    params = {"context": ADMIN_CONTEXT, "namespace": cluster.namespace, "deployment": "api", "service": "api", "replicas": "4"}
    plan = await ic.procedure("traffic-management", params).plan_async(b)
    assert first_mutation(plan)["before"] == {"replicas": 2}
    # The context of a plain kubeconfig argument, string form.
    b2 = await ic.Backends.connect_async(kubeconfig=cluster.sa, kube_context=SA_CONTEXT)
    assert (await ic.triage_async(b2, namespace=cluster.namespace)).context == SA_CONTEXT


def test_a_context_missing_from_the_real_kubeconfig_is_not_found(cluster: Cluster) -> None:
    # The service account's kubeconfig has its own context only; the error lists it.
    with pytest.raises(ic.NotFoundError, match=re.escape(f'context "{ADMIN_CONTEXT}" is not in the kubeconfig (known: {SA_CONTEXT})')):
        ic.Backends.connect(kubeconfig=cluster.sa, kube_context=ADMIN_CONTEXT)


# -- bad specs (no cluster needed) -------------------------------------------------------------------------


def write_kubeconfig(path: Path, context: str = "ctx-a") -> Path:
    """A well-formed kubeconfig pointing at a closed port (loading it connects to nothing)."""
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
                "users": [{"name": "u", "user": {"token": "not-a-secret"}}],
                "contexts": [{"name": context, "context": {"cluster": "c", "user": "u"}}],
                "current-context": context,
            }
        )
    )
    return path


def test_bad_kube_specs_raise_typed_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "no-such-kubeconfig"
    with pytest.raises(ic.InvalidInputError, match=r"^kubeconfig: .*no-such-kubeconfig") as e:
        ic.Backends.connect(kubeconfig=missing)
    assert e.value.kind == "invalid_input" and not e.value.retryable and isinstance(e.value, ValueError)
    garbage = tmp_path / "garbage"
    garbage.write_text("clusters: [unclosed\n")
    with pytest.raises(ic.InvalidInputError, match=r"^kubeconfig: "):
        ic.Backends.connect(kubeconfig=str(garbage))

    kc = write_kubeconfig(tmp_path / "kubeconfig")
    with pytest.raises(ic.NotFoundError, match=re.escape('context "nope" is not in the kubeconfig (known: ctx-a)')) as nf:
        ic.Backends.connect(kubeconfig=kc, kube_context="nope")
    assert nf.value.kind == "not_found"
    assert ic.Backends.connect(kubeconfig=kc).describe().startswith("clusters: kubernetes (context ctx-a)")

    # kube=True and kube_context alone read $KUBECONFIG.
    monkeypatch.setenv("KUBECONFIG", str(kc))
    assert ic.Backends.connect(kube=True).describe().startswith("clusters: kubernetes (context ctx-a)")
    with pytest.raises(ic.NotFoundError, match='context "other" is not in the kubeconfig'):
        ic.Backends.connect(kube_context="other")
    monkeypatch.setenv("KUBECONFIG", str(missing))
    with pytest.raises(ic.InvalidInputError, match=r"^kubeconfig: .*no-such-kubeconfig"):
        ic.Backends.connect(kube=True)

    # One cluster backend: the simulator or a kubeconfig, refused by the spec (incident-backends).
    p = ic.SimPlatform.from_scenario("bad-deploy")
    for kwargs in ({"sim": p, "kubeconfig": kc}, {"scenario": "bad-deploy", "kube": True}, {"sim": tmp_path / "s.json", "kube_context": "ctx-a"}):
        with pytest.raises(ic.InvalidInputError, match=f"^{re.escape(BOTH)}$"):
            ic.Backends.connect(**kwargs)  # type: ignore[arg-type]
    assert not (tmp_path / "s.json").exists(), "refused before anything was created"
    with pytest.raises(ic.InvalidInputError, match=re.escape("at: advances a simulated platform only (give sim or scenario)")):
        ic.Backends.connect(kubeconfig=kc, at=60)
    with pytest.raises(TypeError, match="kubeconfig"):
        ic.Backends.connect(kubeconfig=42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="kube_context"):
        ic.Backends.connect(kubeconfig=kc, kube_context=5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="kube"):
        ic.Backends.connect(kube="yes")  # type: ignore[arg-type]


async def test_bad_kube_specs_reject_the_async_connect(tmp_path: Path) -> None:
    with pytest.raises(ic.InvalidInputError, match=r"^kubeconfig: .*missing"):
        await ic.Backends.connect_async(kubeconfig=tmp_path / "missing")
    kc = write_kubeconfig(tmp_path / "kubeconfig", context="only")
    with pytest.raises(ic.NotFoundError, match=re.escape('context "x" is not in the kubeconfig (known: only)')):
        await ic.Backends.connect_async(kubeconfig=kc, kube_context="x")
    with pytest.raises(ic.InvalidInputError, match=f"^{re.escape(BOTH)}$"):
        await ic.Backends.connect_async(scenario="bad-deploy", kubeconfig=kc)
