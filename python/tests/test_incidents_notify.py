"""`Incidents.open(..., notify_config=...)`: the declaration, updates and the resolve go through the notifiers
the CLI's `--notify-config` configures (the same assembly, `incident_notify::Router::for_store`), each outcome
on the timeline. A local HTTP server started by the test plays a Slack-like Web API and a webhook receiver;
the walk runs on SQLite, and on the team PostgreSQL store when the services run."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

import incident_core as ic

from conftest import service_url

SLACK_TOKEN = "xoxb-py-N0TIFY-t0ken"
HOOK_SECRET = "hook-py-s3cret-N0TIFY"


@dataclass
class Received:
    """What the local server received: Slack-like calls (method, JSON body, Authorization) and webhook bodies."""

    slack: list[tuple[str, dict[str, Any], str]] = field(default_factory=list)
    hooks: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class Server:
    url: str
    received: Received

    def config(self) -> dict[str, Any]:
        """Slack for channel messages; the webhook `bridge` for everything without a provider (pages, the
        status page, the post-incident ticket): in the secrets file's shape."""
        return {
            "slack": {"base_url": f"{self.url}/api", "token": SLACK_TOKEN},
            "webhooks": {"bridge": {"url": f"{self.url}/hook", "secret": HOOK_SECRET}},
            "fallback_webhook": "bridge",
            "retry": {"max_attempts": 1},
        }


@pytest.fixture
def server() -> Iterator[Server]:
    received = Received()
    posted = iter(range(1, 1_000_000))

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
            pass

        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
            if self.path.startswith("/api/"):
                method = self.path.removeprefix("/api/")
                with received.lock:
                    received.slack.append((method, body, self.headers.get("Authorization", "")))
                answer: dict[str, Any] = {"ok": True}
                if method == "conversations.create":
                    answer["channel"] = {"id": "C0INCIDENT", "name": body.get("name")}
                elif method == "chat.postMessage":
                    answer |= {"channel": "C0INCIDENT", "ts": f"1700000000.{next(posted):06d}"}
                self.answer(200, answer)
            elif self.path == "/hook":
                body["_signed"] = (self.headers.get("X-Incident-Signature") or "").startswith("sha256=")
                with received.lock:
                    received.hooks.append(body)
                self.answer(200, {})
            else:
                self.answer(404, {"error": "no such path"})

        def answer(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield Server(f"http://127.0.0.1:{httpd.server_address[1]}", received)
    finally:
        httpd.shutdown()
        httpd.server_close()


def message_events(incidents: ic.Incidents, iid: str) -> list[dict[str, Any]]:
    return [e.data for e in incidents.load(iid).timeline.events() if e.kind == "message_sent"]


def walk_with_notifiers(incidents: ic.Incidents, server: Server) -> None:
    assert incidents.notifiers == ["slack", "webhook:bridge"]
    assert repr(incidents) == "Incidents(notifiers=['slack', 'webhook:bridge'])"
    iid = f"INC-PYN-{uuid.uuid4().hex[:8]}"

    declared = incidents.declare("Checkout errors reported by a customer", "P1", "customer", actor="alice", id=iid)
    messages = declared.to_dict()["messages"]
    assert messages, "the declaration sends its notifications"
    assert all(m["outcome"] == "succeeded" for m in messages), messages
    assert any(m["channel"].startswith("slack:#incident-") or "#incident-" in m["channel"] for m in messages)

    attempts = incidents.update(iid, actor="bob", details="rolling back checkout")
    assert attempts and all(a["outcome"] == "succeeded" for a in attempts), attempts
    incidents.change_severity(iid, "P0", reason="all regions failing", actor="bob")
    attempts = incidents.update(iid, actor="bob")
    assert all(a["outcome"] == "succeeded" for a in attempts), attempts

    resolved = incidents.resolve(iid, root_cause="bad deploy v2.3", actor="bob", resolution="rolled back")
    final = resolved.to_dict()["messages"]
    assert final and all(m["outcome"] == "succeeded" for m in final), final

    # Every message is on the timeline, succeeded, with the provider's reference.
    events = message_events(incidents, iid)
    assert len(events) >= len(messages) + len(final) + 2
    assert all(e["outcome"] == "succeeded" for e in events), events
    assert any(e["detail"].startswith("slack:C0INCIDENT/") for e in events), events

    # ... and arrived: the Slack-like API got the channel, the posts (with the bot token), the pinned
    # ticket; the webhook got the pages / status page / ticket the fallback carries.
    with server.received.lock:
        slack = list(server.received.slack)
        hooks = list(server.received.hooks)
    methods = [m for m, _, _ in slack]
    assert "conversations.create" in methods and "chat.postMessage" in methods and "pins.add" in methods
    assert all(auth == f"Bearer {SLACK_TOKEN}" for _, _, auth in slack)
    texts = [b.get("text", "") for m, b, _ in slack if m == "chat.postMessage"]
    assert any("RESOLVED" in t and "bad deploy v2.3" in t for t in texts), texts
    assert any("P0" in t for t in texts if "Next Update" in t), texts
    assert hooks and all(h["incident_id"] == iid and h["_signed"] for h in hooks), hooks
    assert any(h["kind"] == "postincident_ticket" for h in hooks), [h["kind"] for h in hooks]


def test_notifiers_walk_declare_update_resolve_on_sqlite(tmp_path: Path, server: Server) -> None:
    store = tmp_path / "incident.sqlite"
    walk_with_notifiers(ic.Incidents.open(store, create=True, notify_config=server.config()), server)

    # The same config as a secrets file (JSON here; TOML otherwise), as `--notify-config`.
    path = tmp_path / "notify.json"
    path.write_text(json.dumps(server.config()))
    incidents = ic.Incidents.open(store, notify_config=path)
    assert incidents.notifiers == ["slack", "webhook:bridge"]
    assert ic.Incidents.open(store, notify_config=str(path)).notifiers == ["slack", "webhook:bridge"]


def test_notifiers_walk_declare_update_resolve_on_postgres(server: Server) -> None:
    walk_with_notifiers(ic.Incidents.open(service_url("INCIDENT_TEST_PG_URL"), notify_config=server.config()), server)


async def test_notifiers_from_the_async_twin(tmp_path: Path, server: Server) -> None:
    incidents = await ic.Incidents.open_async(tmp_path / "a.sqlite", create=True, notify_config=server.config())
    c = await incidents.declare_async("Partner says search is down", "P2", "partner", actor="alice", id="INC-PYN-A")
    assert all(m["outcome"] == "succeeded" for m in c.to_dict()["messages"])


def test_environment_overrides_the_config(tmp_path: Path, server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    # No token in the dict: INCIDENT_SLACK_TOKEN supplies it (as for the CLI).
    config = server.config()
    del config["slack"]["token"]
    with pytest.raises(ic.InvalidInputError, match="slack.token"):
        ic.Incidents.open(tmp_path / "e.sqlite", create=True, notify_config=config)
    monkeypatch.setenv("INCIDENT_SLACK_TOKEN", SLACK_TOKEN)
    incidents = ic.Incidents.open(tmp_path / "e.sqlite", create=True, notify_config=config)
    assert incidents.notifiers == ["slack", "webhook:bridge"]
    # The environment alone configures providers.
    monkeypatch.setenv("INCIDENT_SLACK_BASE_URL", f"{server.url}/api")
    assert ic.Incidents.open(tmp_path / "e.sqlite").notifiers == ["slack"]
    monkeypatch.delenv("INCIDENT_SLACK_TOKEN")
    monkeypatch.delenv("INCIDENT_SLACK_BASE_URL")
    # Without any provider every message is recorded `skipped`, as before.
    plain = ic.Incidents.open(tmp_path / "e.sqlite")
    assert plain.notifiers == []
    c = plain.declare("Internal report", "P3", "internal", actor="alice", id="INC-PYN-SKIP")
    assert c.to_dict()["messages"] and all(m["outcome"] == "skipped" for m in c.to_dict()["messages"])


@pytest.mark.parametrize(
    ("config", "field_name"),
    [
        ({"slack": {"token": SLACK_TOKEN, "base_url": "http://slack.example.com/api"}}, "slack.base_url"),
        ({"slack": {"token": SLACK_TOKEN, "invite": "U1"}}, "slack.invite"),
        ({"slack": {"token": SLACK_TOKEN, "private_channels": SLACK_TOKEN}}, "slack.private_channels"),
        ({"slack": {"tokn": SLACK_TOKEN}}, "slack"),
        ({"pagerduty": {"routing_key": 42}}, "pagerduty.routing_key"),
        ({"webhooks": {"ops": {"url": "https://hooks.example.com/x"}}}, "webhooks.ops.secret"),
        ({"webhooks": {"ops": {"url": "https://x.example.com", "secret": HOOK_SECRET}}, "fallback_webhook": "nope"}, "fallback_webhook"),
        ({"retry": {"max_attempts": 0}}, "retry.max_attempts"),
        ([SLACK_TOKEN], "expected an object"),
    ],
)
def test_bad_config_is_invalid_input_naming_the_field_never_the_secret(
    tmp_path: Path, config: Any, field_name: str
) -> None:
    with pytest.raises(ic.InvalidInputError) as e:
        ic.Incidents.open(tmp_path / "bad.sqlite", create=True, notify_config=config)
    message = str(e.value)
    assert field_name in message, message
    assert SLACK_TOKEN not in message and HOOK_SECRET not in message and "42" not in message, message


def test_bad_config_file(tmp_path: Path) -> None:
    bad = tmp_path / "notify.toml"
    bad.write_text(f'[slack]\ntoken = "{SLACK_TOKEN}"\nbase_url = "ftp://x"\n')
    with pytest.raises(ic.InvalidInputError, match="slack.base_url") as e:
        ic.Incidents.open(tmp_path / "f.sqlite", create=True, notify_config=bad)
    assert SLACK_TOKEN not in str(e.value)
    syntax = tmp_path / "syntax.toml"
    syntax.write_text(f'[slack]\ntoken = "{SLACK_TOKEN}\n')
    with pytest.raises(ic.InvalidInputError, match="line 2") as e:
        ic.Incidents.open(tmp_path / "f.sqlite", create=True, notify_config=syntax)
    assert SLACK_TOKEN not in str(e.value)
    with pytest.raises(ic.InvalidInputError, match="cannot read"):
        ic.Incidents.open(tmp_path / "f.sqlite", create=True, notify_config=tmp_path / "missing.toml")
    with pytest.raises(TypeError):
        ic.Incidents.open(tmp_path / "f.sqlite", create=True, notify_config={"slack": object()})
