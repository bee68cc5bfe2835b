"""Real backends through ``Backends.connect``: AWS on moto, the PostgreSQL team store, real PostgreSQL and
Redis probes in triage; bad specs; and no secret in any message, repr or report."""

from __future__ import annotations

import json
import os
import re
import time
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import AWS_KEY_ID, AWS_SECRET, Moto, password_of, service_url

import incident_core as ic

PARAMS = {"context": "ml-platform-primary", "namespace": "ml-platform", "deployment": "ml-inference-api"}
PROMOTE = {"mode": "promote-read-replica", "region": "us-east-1", "replica_instance": "ml-platform-secondary"}
NO_INTEGRITY_CHECKS = ic.Policy({"integrity_checks": []})


def unique(p: ic.Procedure) -> ic.Procedure:
    """`p` with a description unique to this test run: run ids are a digest of the plan, deterministic on a
    simulator, and the team store outlives test runs."""
    doc = json.loads(p.to_json())
    doc["description"] += f" (pytest {time.time_ns()}-{os.getpid()})"
    return ic.parse_procedure(json.dumps(doc))


def seed_replica(moto: Moto) -> None:
    moto.rds(
        "us-east-1",
        "CreateDBInstance",
        DBInstanceIdentifier="ml-platform-prod",
        Engine="postgres",
        DBInstanceClass="db.t3.micro",
        MasterUsername="incident",
        MasterUserPassword="moto-accepts-anything",
        AllocatedStorage=20,
        BackupRetentionPeriod=7,
    )
    moto.rds(
        "us-east-1",
        "CreateDBInstanceReadReplica",
        DBInstanceIdentifier="ml-platform-secondary",
        SourceDBInstanceIdentifier="ml-platform-prod",
    )


def moto_aws(moto: Moto) -> ic.AwsConfig:
    return ic.AwsConfig(region="us-west-2", secondary_region="us-east-1", endpoint_url=moto.url)


def assert_no_secret(*texts: str) -> None:
    for t in texts:
        assert AWS_SECRET not in t and AWS_KEY_ID not in t, t


# -- AWS (moto) ------------------------------------------------------------------------------------------


def test_plan_run_resume_a_replica_promotion_on_moto(moto: Moto) -> None:
    seed_replica(moto)
    b = ic.Backends.connect(scenario="database-failover", aws=moto_aws(moto))
    assert b.uses_aws and b.real_probes == []
    assert "databases/dns/cloud: aws us-west-2 → us-east-1" in b.describe()
    assert repr(b).startswith("Backends(clusters: sim (database-failover)")
    assert b.sim is not None and b.sim.scenario_name == "database-failover"

    plan = ic.procedure("database-recovery", PROMOTE).plan(b)
    steps = json.loads(plan.to_json())["steps"]
    promote = next(s for s in steps if s["mutating"])
    assert "promote-read-replica" in promote["summary"]
    assert "ml-platform-prod" in json.dumps(promote["before"]), "the plan read live RDS state in moto"
    approved = plan.approve("ci", at=b.sim.now, confirm_production=plan.needs_production_confirmation)
    run = ic.run_plan(approved, b, owner="pytest:aws")
    assert run.status == "succeeded", run.to_json()
    changed = [s for s in json.loads(run.to_json())["steps"] if s["changed"]]
    assert changed and all(s["status"] == "succeeded" for s in changed)
    # The promotion happened in moto, not in the simulator's RDS.
    assert not any("promote" in json.dumps(op) for op in b.sim.operation_log())
    assert "<DBInstanceIdentifier>ml-platform-secondary</DBInstanceIdentifier>" in moto.rds("us-east-1", "DescribeDBInstances")
    # The Backends' own (in-memory) store: resuming the finished run repeats nothing.
    resumed = ic.resume_run(run.run_id, b, owner="pytest:aws")
    assert resumed.status == "succeeded"
    assert_no_secret(repr(b), b.describe(), plan.to_json(), run.to_json(), str(plan))


async def test_async_connect_plan_run_on_moto(moto: Moto) -> None:
    seed_replica(moto)
    b = await ic.Backends.connect_async(scenario="database-failover", aws=moto_aws(moto))
    plan = await ic.procedure("database-recovery", PROMOTE).plan_async(b)
    approved = plan.approve("ci", at=b.sim.now if b.sim else None, confirm_production=True)
    run = await ic.run_plan_async(approved, b)
    assert run.status == "succeeded", run.to_json()
    again = await ic.resume_run_async(run.run_id, b)
    assert again.status == "succeeded"


def test_eks_contexts_come_from_describe_cluster(moto: Moto) -> None:
    moto.eks_cluster("us-east-1", "ml-secondary")
    b = ic.Backends.connect(eks=["ml-platform-secondary=us-east-1/ml-secondary"], aws=moto_aws(moto))
    assert b.describe().startswith("clusters: kubernetes (context ml-platform-secondary);"), b.describe()
    # moto's made-up endpoint is unreachable here: triage is a partial report naming the EKS context.
    report = ic.triage(b)
    missing = report.to_dict()["missing"]
    assert missing and all(
        m["reason"].startswith("EKS context ml-platform-secondary (cluster ml-secondary in us-east-1) at https://")
        for m in missing
    ), missing
    with pytest.raises(ic.NotFoundError, match=re.escape("EKS context gone (cluster nope in us-east-1): ")):
        ic.triage(ic.Backends.connect(eks=["gone=us-east-1/nope"], aws=moto_aws(moto)))
    assert_no_secret(report.to_json(), b.describe())


def test_bad_eks_specs_raise_typed_errors(moto: Moto) -> None:
    with pytest.raises(ic.InvalidInputError, match=re.escape("expected CONTEXT=REGION/CLUSTER or REGION/CLUSTER")):
        ic.Backends.connect(eks=["just-a-name"], aws=moto_aws(moto))
    with pytest.raises(ic.InvalidInputError, match=re.escape("EKS contexts need AWS (aws)")):
        ic.Backends.connect(eks=["us-east-1/ml-secondary"])
    with pytest.raises(ic.InvalidInputError, match="do not mix with a simulated platform"):
        ic.Backends.connect(scenario="bad-deploy", eks=["us-east-1/ml-secondary"], aws=moto_aws(moto))
    with pytest.raises(TypeError):
        ic.Backends.connect(eks="us-east-1/ml-secondary", aws=moto_aws(moto))  # type: ignore[arg-type]


def test_aws_errors_are_typed_and_never_show_the_secret(moto: Moto, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with pytest.raises(ic.InvalidInputError, match=re.escape('"Mars" is not an AWS region name (e.g. us-east-1)')):
        ic.Backends.connect(scenario="bad-deploy", aws=ic.AwsConfig(region="Mars", endpoint_url=moto.url))
    with pytest.raises(ic.InvalidInputError, match=re.escape('AWS endpoint URL "localhost:5000": no scheme')):
        ic.Backends.connect(scenario="bad-deploy", aws=ic.AwsConfig(region="us-west-2", endpoint_url="localhost:5000"))
    with pytest.raises(ic.InvalidInputError, match="unsupported scheme `ftp`") as e:
        ic.Backends.connect(scenario="bad-deploy", aws=ic.AwsConfig(region="us-west-2", endpoint_url="ftp://k:pw@h"))
    assert "pw@" not in str(e.value)
    with pytest.raises(TypeError):
        ic.AwsConfig(region=5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        ic.AwsConfig("us-west-2")  # type: ignore[misc]
    with pytest.raises(TypeError, match="'dict' object is not an instance of 'AwsConfig'"):
        ic.Backends.connect(scenario="bad-deploy", aws={"region": "us-west-2"})  # type: ignore[arg-type]
    # No credentials anywhere in the chain: a clear PermissionDeniedError.
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(var, raising=False)
    empty = tmp_path / "empty"
    empty.write_text("")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(ic.PermissionDeniedError, match="no AWS credentials found") as e:
        ic.Backends.connect(scenario="bad-deploy", aws=moto_aws(moto))
    assert e.value.kind == "permission_denied"


# -- the PostgreSQL team store ----------------------------------------------------------------------------


def test_run_with_the_postgres_team_store_then_resume_elsewhere(tmp_path: Path) -> None:
    pg = service_url("INCIDENT_TEST_PG_URL")
    state = tmp_path / "sim.json"
    b = ic.Backends.connect(sim=state, scenario="bad-deploy", at=timedelta(minutes=5), store=pg)
    assert state.exists() and b.sim is not None
    assert "store: postgres postgres://" in b.describe() and ":***@" in b.describe()
    assert password_of(pg) not in repr(b) + b.describe()

    plan = unique(ic.procedure("application-rollback", PARAMS)).plan(b)
    approved = plan.approve("alice", at=b.sim.now, confirm_production=plan.needs_production_confirmation)
    run = ic.run_plan(approved, b, owner="pytest:pg")
    assert run.status == "succeeded", run.to_json()
    mutations = len(b.sim.operation_log())
    assert mutations > 0
    del b

    # Another process's view: the reopened state file and a new connection to the same team store.
    b2 = ic.Backends.connect(sim=state, store=pg)
    resumed = ic.resume_run(run.run_id, b2, owner="pytest:pg")
    assert resumed.status == "succeeded" and b2.sim is not None
    assert len(b2.sim.operation_log()) == mutations
    # A SimPlatform with a postgres:// store works too.
    again = ic.resume_run(run.run_id, ic.SimPlatform.open(state), store=pg, take_over=True)
    assert again.status == "succeeded"
    with pytest.raises(ic.NotFoundError, match="run-not-in-the-team-store"):
        ic.resume_run("run-not-in-the-team-store", b2)


def test_store_errors_are_typed_and_scrubbed() -> None:
    pg = os.environ.get("INCIDENT_TEST_PG_URL") or "postgres://incident:hunter2@127.0.0.1:5432/incident"
    wrong = pg.replace(password_of(pg), "Wr0ng-Py-Secret") if "@" in pg else pg
    p = ic.SimPlatform.from_scenario("bad-deploy")
    with pytest.raises((ic.PermissionDeniedError, ic.UnavailableError)) as e:
        ic.resume_run("run-x", p, store=wrong)
    assert "Wr0ng-Py-Secret" not in str(e.value) and "***" in str(e.value)
    with pytest.raises(ic.UnavailableError) as e2:
        ic.Backends.connect(scenario="bad-deploy", store="postgres://u:Unreach4ble@127.0.0.1:1/db")
    assert "Unreach4ble" not in str(e2.value) and e2.value.retryable
    with pytest.raises(ic.InvalidInputError, match=re.escape("store mysql://***@db/x: unsupported scheme `mysql://`")):
        ic.resume_run("run-x", p, store="mysql://root:hunter2@db/x")
    with pytest.raises(ic.InvalidInputError, match="store: invalid PostgreSQL connection string") as e3:
        ic.Backends.connect(scenario="bad-deploy", store="postgres://u:hunter2@h:notaport/db")
    assert "hunter2" not in str(e3.value)


# -- real datastore probes --------------------------------------------------------------------------------


async def test_triage_with_real_postgres_and_redis_probes() -> None:
    pg, redis = service_url("INCIDENT_TEST_PG_URL"), service_url("INCIDENT_TEST_REDIS_URL")
    b = ic.Backends.connect(scenario="bad-deploy", at=180, postgres=pg, redis=redis, policy=NO_INTEGRITY_CHECKS)
    assert b.real_probes == ["postgres", "redis"]
    assert "probes: postgres (real), redis (real)" in b.describe()
    for report in (ic.triage(b), await ic.triage_async(b, namespace="ml-platform")):
        assert "ml-inference-api" in report.degraded_deployments
        stores = {d["name"]: d for d in report.to_dict()["datastores"]}
        assert stores["postgres"]["healthy"] and stores["redis"]["healthy"], stores
        checks = {f["check"] for d in stores.values() for f in d["findings"]}
        assert {"connections", "ping"} <= checks, "real probes, not the simulator's"
        text = report.render() + report.to_json()
        assert password_of(pg) not in text and password_of(redis) not in text
    # The policy's integrity checks run against the real PostgreSQL (a failing check names itself).
    strict = ic.Policy({"integrity_checks": [{"name": "never_true", "sql": "SELECT 1", "max": 0}]})
    r = ic.triage(ic.Backends.connect(scenario="bad-deploy", postgres=pg, policy=strict))
    pgr = next(d for d in r.to_dict()["datastores"] if d["name"] == "postgres")
    assert not pgr["healthy"] and any(f["check"] == "integrity:never_true" and not f["ok"] for f in pgr["findings"])


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_backends_are_refused_after_fork() -> None:
    b = ic.Backends.connect(scenario="bad-deploy")
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: using the parent's Backends is refused with a clear error
        try:
            ic.triage(b)
            os.write(w, b"no error")
        except ic.PreconditionFailedError as e:
            os.write(w, str(e).encode())
        finally:
            os._exit(0)
    os.close(w)
    msg = os.read(r, 4096).decode()
    os.waitpid(pid, 0)
    assert "cannot be used after fork()" in msg and "Backends.connect again" in msg, msg
    assert ic.triage(b).context  # the parent's object still works


def test_an_unreachable_datastore_is_a_finding_not_an_error() -> None:
    b = ic.Backends.connect(scenario="bad-deploy", redis="redis://:Wr0ng-Redis@127.0.0.1:1")
    r = ic.triage(b)
    redis = next(d for d in r.to_dict()["datastores"] if d["name"] == "redis")
    assert not redis["healthy"]
    assert "Wr0ng-Redis" not in r.to_json() + r.render() + repr(b)


# -- bad specs ---------------------------------------------------------------------------------------------


def test_bad_specs_raise_typed_errors_naming_the_problem(tmp_path: Path) -> None:
    with pytest.raises(ic.InvalidInputError, match=r"^no cluster backend: give .*a simulated platform \(sim\)"):
        ic.Backends.connect()
    with pytest.raises(ic.NotFoundError, match="no-such-scenario"):
        ic.Backends.connect(scenario="no-such-scenario")
    p = ic.SimPlatform.from_scenario("bad-deploy")
    with pytest.raises(ic.InvalidInputError, match="scenario applies to a state file or a new platform"):
        ic.Backends.connect(sim=p, scenario="bad-deploy")
    with pytest.raises(TypeError, match="sim: expected a SimPlatform or a state file path, not int"):
        ic.Backends.connect(sim=42)  # type: ignore[arg-type]
    with pytest.raises(ic.InvalidInputError, match="duration must be finite and >= 0"):
        ic.Backends.connect(sim=p, at=-5)
    with pytest.raises(ic.InvalidInputError, match="postgres: invalid PostgreSQL connection string") as e:
        ic.Backends.connect(sim=p, postgres="postgres://u:hunter2@h:notaport/db")
    assert "hunter2" not in str(e.value)
    with pytest.raises(ic.InvalidInputError, match=re.escape("redis: invalid Redis URL: the scheme must be redis://")):
        ic.Backends.connect(sim=p, redis="http://:hunter2@cache:6379")
    with pytest.raises(TypeError, match="expected a SimPlatform or Backends, not str"):
        ic.triage("ml-platform-primary")  # type: ignore[arg-type]
    b = ic.Backends.connect(sim=p)
    plan = ic.procedure("application-rollback", PARAMS).plan(b)
    approved = plan.approve("ci", at=p.now, confirm_production=True)
    with pytest.raises(ic.InvalidInputError, match="Backends carry their own store"):
        ic.run_plan(approved, b, store=str(tmp_path / "j.sqlite"))
    with pytest.raises(ic.InvalidInputError, match="Backends carry their own store"):
        ic.approve_gate("run-x", "gate", "alice", b, store="x.sqlite")
    # The state-file form: created from the scenario when missing, reopened afterwards.
    state = tmp_path / "state.json"
    first = ic.Backends.connect(sim=state, scenario="region-failure")
    assert first.sim is not None and first.sim.scenario_name == "region-failure"
    assert ic.Backends.connect(sim=str(state)).describe().startswith("clusters: sim (region-failure)")
