"""Shared helpers: the cross-language fixtures in crates/incident-core/tests/fixtures of the repository, and the real services of
`scripts/services start` (PostgreSQL 15, Redis 7, moto)."""

from __future__ import annotations

import json
import os
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "crates" / "incident-core" / "tests" / "fixtures"
T0 = datetime(2024, 5, 3, 14, 0, tzinfo=timezone.utc)


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


# -- the real services -------------------------------------------------------------------------------


def service_url(name: str) -> str:
    """A service URL from the environment; the test is skipped, saying how to start it, when it is absent."""
    url = os.environ.get(name, "").strip()
    if not url:
        pytest.skip(f"{name} is not set: run `scripts/services start` and `. ~/.cache/incident-core/services/env` (scripts/test does both)")
    return url


def password_of(url: str) -> str:
    """The password of `scheme://user:password@host...` (percent-decoded)."""
    userinfo = url.split("://", 1)[1].split("@", 1)[0]
    return urllib.parse.unquote(userinfo.split(":", 1)[1])


@dataclass
class Moto:
    """A reset moto server and a tiny RDS client for seeding (moto does not check signatures)."""

    url: str

    def reset(self) -> None:
        urllib.request.urlopen(urllib.request.Request(f"{self.url}/moto-api/reset", method="POST"), timeout=10).read()

    def rds(self, region: str, action: str, **params: str | int) -> str:
        body = urllib.parse.urlencode({"Action": action, "Version": "2014-10-31", **params}).encode()
        req = urllib.request.Request(f"{self.url}/", data=body, method="POST")
        req.add_header("Content-Type", "application/x-www-form-urlencoded")
        req.add_header(
            "Authorization",
            f"AWS4-HMAC-SHA256 Credential=AKIAPYTEST/20240101/{region}/rds/aws4_request, SignedHeaders=host, Signature=0",
        )
        text: str = urllib.request.urlopen(req, timeout=10).read().decode()
        return text

    def eks_cluster(self, region: str, name: str) -> None:
        """Create EKS cluster `name` in `region` (moto makes up its endpoint and CA)."""
        body = json.dumps({"name": name, "roleArn": "arn:aws:iam::123456789012:role/eks", "resourcesVpcConfig": {}})
        req = urllib.request.Request(f"{self.url}/clusters", data=body.encode(), method="POST")
        req.add_header("Content-Type", "application/json")
        req.add_header(
            "Authorization",
            f"AWS4-HMAC-SHA256 Credential=AKIAPYTEST/20240101/{region}/eks/aws4_request, SignedHeaders=host, Signature=0",
        )
        urllib.request.urlopen(req, timeout=10).read()


AWS_KEY_ID = "AKIAPYTHONTEST000001"
AWS_SECRET = "pyFAKEsecret/never-printed+99"


@pytest.fixture
def moto(monkeypatch: pytest.MonkeyPatch) -> Iterator[Moto]:
    """moto, reset, with fake static credentials in the environment (the standard AWS chain reads them)."""
    m = Moto(service_url("INCIDENT_TEST_MOTO_URL").rstrip("/"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", AWS_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", AWS_SECRET)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    m.reset()
    yield m
    m.reset()
