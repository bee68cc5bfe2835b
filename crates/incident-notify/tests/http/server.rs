//! A real HTTP server on 127.0.0.1 that plays Slack, PagerDuty, Statuspage, GitHub Issues, Jira Cloud
//! and a webhook receiver. It
//! checks every request against the provider's documented shape (method, path, headers, JSON body),
//! answers `400 {"problems": [...]}` when one is off (and records the problems), and otherwise answers
//! from a per-operation script, or like the provider would.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

pub(crate) const SLACK_TOKEN: &str = "xoxb-1111-2222-SLACKSECRETTOKEN";
pub(crate) const PD_KEY: &str = "R0UT1NGKEYPAGERDUTYSECRET0000001"; // 32 characters, like a real integration key
pub(crate) const PD_CTO_KEY: &str = "R0UT1NGKEYPAGERDUTYCTOSECRET0002";
pub(crate) const SP_KEY: &str = "sp-api-key-STATUSPAGESECRET";
pub(crate) const SP_PAGE: &str = "kctbh9vrtdwd";
pub(crate) const HOOK_SECRET: &str = "whsec-WEBHOOKSIGNINGSECRET";
pub(crate) const GH_TOKEN: &str = "github_pat_11AAAGITHUBSECRETTOKEN";
pub(crate) const GH_REPO: &str = "acme/platform";
pub(crate) const JIRA_EMAIL: &str = "bot@acme.example";
pub(crate) const JIRA_TOKEN: &str = "ATATT3xJIRASECRETTOKEN";

/// One request as received.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    pub(crate) op: String,
    pub(crate) method: Method,
    pub(crate) path: String,
    pub(crate) query: String,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
    pub(crate) problems: Vec<String>,
}

impl Seen {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
    pub(crate) fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
    }
}

/// A scripted answer.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(&'static str, String)>,
    pub(crate) body: String,
    pub(crate) delay: Duration,
}

impl Answer {
    pub(crate) fn status(status: u16, body: Value) -> Self {
        Self { status, headers: Vec::new(), body: body.to_string(), delay: Duration::ZERO }
    }
    pub(crate) fn retry_after(mut self, secs: &str) -> Self {
        self.headers.push(("retry-after", secs.to_owned()));
        self
    }
    pub(crate) fn delayed(mut self, d: Duration) -> Self {
        self.delay = d;
        self
    }
}

#[derive(Default)]
struct Inner {
    seen: Vec<Seen>,
    script: HashMap<String, VecDeque<Answer>>,
    /// Channels `conversations.list` returns: (id, name, is_member).
    channels: Vec<(String, String, bool)>,
    next: u32,
}

/// The server handle.
#[derive(Clone)]
pub(crate) struct Providers {
    pub(crate) addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
}

impl Providers {
    #[allow(clippy::disallowed_methods)] // the test server runs beside the test, on the test's runtime
    pub(crate) async fn start() -> Self {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let app = axum::Router::new().fallback(handle).with_state(inner.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
        Self { addr, inner }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Answer the next request of `op` (`chat.postMessage`, `enqueue`, `create`, `update`, `webhook`, ...).
    pub(crate) fn script(&self, op: &str, answer: Answer) {
        self.inner.lock().expect("lock").script.entry(op.to_owned()).or_default().push_back(answer);
    }

    pub(crate) fn add_channel(&self, id: &str, name: &str, is_member: bool) {
        self.inner.lock().expect("lock").channels.push((id.into(), name.into(), is_member));
    }

    pub(crate) fn seen(&self) -> Vec<Seen> {
        self.inner.lock().expect("lock").seen.clone()
    }

    pub(crate) fn ops(&self) -> Vec<String> {
        self.seen().into_iter().map(|s| s.op).collect()
    }

    /// Every request matched its provider's documented shape.
    pub(crate) fn assert_well_formed(&self) {
        for s in self.seen() {
            assert!(s.problems.is_empty(), "{} {} {}: {:?}", s.method, s.path, s.op, s.problems);
        }
    }
}

async fn handle(
    State(inner): State<Arc<Mutex<Inner>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let query = uri.query().unwrap_or("").to_owned();
    let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let (op, problems) = check(&method, &path, &query, &headers, &json, &body);
    let (answer, default) = {
        let mut g = inner.lock().expect("lock");
        g.next += 1;
        let n = g.next;
        g.seen.push(Seen {
            op: op.clone(),
            method: method.clone(),
            path: path.clone(),
            query: query.clone(),
            headers: headers.clone(),
            body: body.to_vec(),
            problems: problems.clone(),
        });
        let scripted = g.script.get_mut(&op).and_then(VecDeque::pop_front);
        (scripted, default_answer(&op, &json, &query, &g.channels, n))
    };
    if !problems.is_empty() {
        return (StatusCode::BAD_REQUEST, axum::Json(json!({ "problems": problems }))).into_response();
    }
    let a = answer.unwrap_or(default);
    if !a.delay.is_zero() {
        tokio::time::sleep(a.delay).await;
    }
    let mut resp = (StatusCode::from_u16(a.status).expect("status"), a.body).into_response();
    resp.headers_mut().insert("content-type", "application/json; charset=utf-8".parse().expect("value"));
    for (k, v) in a.headers {
        resp.headers_mut().insert(k, v.parse().expect("value"));
    }
    resp
}

fn default_answer(op: &str, body: &Value, query: &str, channels: &[(String, String, bool)], n: u32) -> Answer {
    let ok = |v: Value| Answer::status(200, v);
    match op {
        "conversations.create" => {
            ok(json!({"ok": true, "channel": {"id": "C0INCIDENT1", "name": body["name"], "is_member": true}}))
        }
        "chat.postMessage" => ok(
            json!({"ok": true, "channel": "C0INCIDENT1", "ts": format!("1700000000.{n:06}"), "message": {"text": body["text"]}}),
        ),
        "conversations.list" => {
            let list: Vec<Value> =
                channels.iter().map(|(id, name, m)| json!({"id": id, "name": name, "is_member": m})).collect();
            let _ = query;
            ok(json!({"ok": true, "channels": list, "response_metadata": {"next_cursor": ""}}))
        }
        op if op.starts_with("conversations.") || op.starts_with("chat.") || op.starts_with("pins.") => {
            ok(json!({"ok": true}))
        }
        "enqueue" => Answer::status(
            202,
            json!({"status": "success", "message": "Event processed", "dedup_key": body["dedup_key"]}),
        ),
        "create" => Answer::status(
            201,
            json!({"id": "p31zjtct2jer", "name": body["incident"]["name"], "status": body["incident"]["status"], "shortlink": "http://stspg.io/x"}),
        ),
        "update" => ok(json!({"id": "p31zjtct2jer", "status": body["incident"]["status"]})),
        "webhook" => ok(json!({"received": true})),
        "github.issue" => Answer::status(
            201,
            json!({"id": 1, "number": 1347, "html_url": "https://github.com/acme/platform/issues/1347", "title": body["title"]}),
        ),
        "jira.issue" => Answer::status(
            201,
            json!({"id": "10000", "key": "OPS-24", "self": "https://acme.atlassian.net/rest/api/3/issue/10000"}),
        ),
        _ => Answer::status(404, json!({"error": "not found"})),
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    headers.get("content-type").and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("application/json"))
}

fn str_field<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// Name the operation and list what is wrong with the request.
fn check(
    method: &Method,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    body: &Value,
    raw: &[u8],
) -> (String, Vec<String>) {
    let mut p = Vec::new();
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("");
    if let Some(m) = path.strip_prefix("/api/") {
        // Slack Web API.
        if auth != format!("Bearer {SLACK_TOKEN}") {
            p.push("Authorization must be `Bearer <bot token>`".into());
        }
        if m == "conversations.list" {
            if method != Method::GET {
                p.push("conversations.list is read with GET".into());
            }
            if !query.contains("types=") {
                p.push("conversations.list without types".into());
            }
            return (m.into(), p);
        }
        if method != Method::POST || !is_json(headers) {
            p.push("Web API writes are POST application/json".into());
        }
        let need = |p: &mut Vec<String>, k: &str| {
            if str_field(body, k).is_none() {
                p.push(format!("{m}: `{k}` is required"));
            }
        };
        match m {
            "conversations.create" => {
                need(&mut p, "name");
                let name = str_field(body, "name").unwrap_or("");
                let valid = name.len() <= 80
                    && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
                if !valid {
                    p.push(format!("invalid channel name {name:?}"));
                }
            }
            "conversations.invite" => {
                need(&mut p, "channel");
                need(&mut p, "users");
                if str_field(body, "users")
                    .is_some_and(|u| u.split(',').any(|id| !id.starts_with('U') && !id.starts_with('W')))
                {
                    p.push("users is a comma-separated list of user ids".into());
                }
            }
            "conversations.join" => need(&mut p, "channel"),
            "chat.postMessage" => {
                need(&mut p, "channel");
                need(&mut p, "text");
            }
            "chat.update" => ["channel", "ts", "text"].iter().for_each(|k| need(&mut p, k)),
            "pins.add" => ["channel", "timestamp"].iter().for_each(|k| need(&mut p, k)),
            other => p.push(format!("unexpected Slack method {other}")),
        }
        return (m.into(), p);
    }
    if path == "/v2/enqueue" {
        // PagerDuty Events API v2: no Authorization header; the routing key is in the body.
        if method != Method::POST || !is_json(headers) {
            p.push("events are POST application/json".into());
        }
        if !auth.is_empty() {
            p.push("the Events API takes no Authorization header".into());
        }
        if str_field(body, "routing_key").is_none_or(|k| k.len() != 32) {
            p.push("routing_key must be the 32-character integration key".into());
        }
        let action = str_field(body, "event_action").unwrap_or("");
        if !["trigger", "acknowledge", "resolve"].contains(&action) {
            p.push(format!("bad event_action {action:?}"));
        }
        if str_field(body, "dedup_key").is_none_or(|k| k.len() > 255) {
            p.push("dedup_key must be 1..=255 characters".into());
        }
        if action == "trigger" {
            let payload = &body["payload"];
            if str_field(payload, "summary").is_none_or(|s| s.chars().count() > 1024) {
                p.push("payload.summary is required, at most 1024 characters".into());
            }
            if str_field(payload, "source").is_none() {
                p.push("payload.source is required".into());
            }
            if !["critical", "error", "warning", "info"].contains(&str_field(payload, "severity").unwrap_or("")) {
                p.push("payload.severity must be critical, error, warning or info".into());
            }
            if let Some(ts) = str_field(payload, "timestamp") {
                if chrono::DateTime::parse_from_rfc3339(ts).is_err() {
                    p.push("payload.timestamp must be ISO 8601".into());
                }
            }
        }
        return ("enqueue".into(), p);
    }
    let incidents = format!("/v1/pages/{SP_PAGE}/incidents");
    if let Some(rest) = path.strip_prefix(&incidents) {
        // Atlassian Statuspage.
        if auth != format!("OAuth {SP_KEY}") {
            p.push("Authorization must be `OAuth <api key>`".into());
        }
        if !is_json(headers) {
            p.push("body must be application/json".into());
        }
        let inc = &body["incident"];
        let statuses = ["investigating", "identified", "monitoring", "resolved"];
        if !statuses.contains(&str_field(inc, "status").unwrap_or("")) {
            p.push("incident.status must be investigating, identified, monitoring or resolved".into());
        }
        if str_field(inc, "body").is_none() {
            p.push("incident.body (the update message) is required".into());
        }
        let op = match (method.clone(), rest) {
            (Method::POST, "") => {
                if str_field(inc, "name").is_none() {
                    p.push("incident.name is required to create an incident".into());
                }
                "create"
            }
            (Method::PATCH, id) if id.len() > 1 && id[1..].chars().all(|c| c.is_ascii_alphanumeric()) => "update",
            _ => {
                p.push(format!("unexpected {method} {path}"));
                "statuspage?"
            }
        };
        return (op.into(), p);
    }
    if path == format!("/repos/{GH_REPO}/issues") {
        // GitHub REST: create an issue.
        if method != Method::POST || !is_json(headers) {
            p.push("issues are created with POST application/json".into());
        }
        if auth != format!("Bearer {GH_TOKEN}") {
            p.push("Authorization must be `Bearer <token>`".into());
        }
        if headers.get("accept").and_then(|v| v.to_str().ok()) != Some("application/vnd.github+json") {
            p.push("Accept must be application/vnd.github+json".into());
        }
        if headers.get("x-github-api-version").and_then(|v| v.to_str().ok()) != Some("2022-11-28") {
            p.push("X-GitHub-Api-Version must be 2022-11-28".into());
        }
        if headers.get("user-agent").is_none() {
            p.push("GitHub rejects requests without a User-Agent".into());
        }
        if str_field(body, "title").is_none() {
            p.push("title is required".into());
        }
        if body.get("body").is_some_and(|b| !b.is_string()) {
            p.push("body is a string".into());
        }
        if body.get("labels").is_some_and(|l| !l.as_array().is_some_and(|a| a.iter().all(Value::is_string))) {
            p.push("labels is an array of names".into());
        }
        return ("github.issue".into(), p);
    }
    if path == "/rest/api/3/issue" {
        // Jira Cloud REST v3: create an issue.
        use base64::Engine as _;
        let want =
            format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{JIRA_EMAIL}:{JIRA_TOKEN}")));
        if method != Method::POST || !is_json(headers) {
            p.push("issues are created with POST application/json".into());
        }
        if auth != want {
            p.push("Authorization must be basic auth of email:api token".into());
        }
        let f = &body["fields"];
        if str_field(&f["project"], "key").is_none() && str_field(&f["project"], "id").is_none() {
            p.push("fields.project.key (or id) is required".into());
        }
        if str_field(f, "summary").is_none_or(|s| s.chars().count() > 255 || s.contains('\n')) {
            p.push("fields.summary is required: one line, at most 255 characters".into());
        }
        if str_field(&f["issuetype"], "name").is_none() && str_field(&f["issuetype"], "id").is_none() {
            p.push("fields.issuetype.name (or id) is required".into());
        }
        if let Some(d) = f.get("description") {
            p.extend(adf_problems(d));
        }
        if f.get("labels").is_some_and(|l| {
            !l.as_array().is_some_and(|a| a.iter().all(|x| x.as_str().is_some_and(|s| !s.contains(' '))))
        }) {
            p.push("fields.labels is an array of names without spaces".into());
        }
        return ("jira.issue".into(), p);
    }
    if path.starts_with("/hooks/") {
        if method != Method::POST || !is_json(headers) {
            p.push("webhooks are POST application/json".into());
        }
        let ts = headers.get("x-incident-timestamp").and_then(|v| v.to_str().ok()).unwrap_or("");
        let sig = headers.get("x-incident-signature").and_then(|v| v.to_str().ok()).unwrap_or("");
        // Independent check: HMAC-SHA256 over "<timestamp>.<raw body>".
        let mut mac = Hmac::<Sha256>::new_from_slice(HOOK_SECRET.as_bytes()).expect("key");
        mac.update(format!("{ts}.").as_bytes());
        mac.update(raw);
        let want = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        if ts.parse::<i64>().is_err() || sig != want {
            p.push("bad X-Incident-Timestamp / X-Incident-Signature".into());
        }
        if ["delivery_id", "incident_id", "kind", "text", "sent_at"].iter().any(|k| str_field(body, k).is_none()) {
            p.push("webhook body lacks a field".into());
        }
        return ("webhook".into(), p);
    }
    ("unknown".into(), vec![format!("unexpected request {method} {path}")])
}

/// What is wrong with an Atlassian Document Format document (the subset a description uses): a `doc` of
/// version 1 whose blocks are paragraphs (text and hardBreak) or code blocks (text), no empty text.
fn adf_problems(d: &Value) -> Vec<String> {
    let mut p = Vec::new();
    if d["type"] != "doc" || d["version"] != 1 {
        p.push("description must be an ADF doc of version 1".into());
    }
    let Some(blocks) = d["content"].as_array() else {
        p.push("description.content must be an array".into());
        return p;
    };
    for b in blocks {
        let inline_ok: &[&str] = match b["type"].as_str() {
            Some("paragraph") => &["text", "hardBreak"],
            Some("codeBlock") => &["text"],
            other => {
                p.push(format!("unexpected ADF block {other:?}"));
                continue;
            }
        };
        for n in b["content"].as_array().map_or(&[][..], Vec::as_slice) {
            let t = n["type"].as_str().unwrap_or("");
            if !inline_ok.contains(&t) {
                p.push(format!("ADF node {t:?} not allowed here"));
            }
            if t == "text" && str_field(n, "text").is_none() {
                p.push("ADF text nodes must not be empty".into());
            }
        }
    }
    p
}
