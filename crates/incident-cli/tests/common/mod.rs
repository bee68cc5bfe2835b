//! Running the `incident` binary as a user does, shared by the CLI test binaries.
#![allow(dead_code)] // each test binary uses what it needs

use std::io::Write;
use std::process::{Command, Output, Stdio};

pub(crate) fn incident(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_incident"))
        .args(args)
        .env_remove("INCIDENT_POLICY")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn incident");
    if let Some(input) = stdin {
        child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("write stdin");
    }
    drop(child.stdin.take());
    child.wait_with_output().expect("wait")
}

pub(crate) fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub(crate) fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A failed command prints exactly one line, naming the problem, and exits with `code`.
pub(crate) fn assert_one_line_error(o: &Output, code: i32, needle: &str) {
    assert_eq!(o.status.code(), Some(code), "stdout: {} stderr: {}", stdout(o), stderr(o));
    let err = stderr(o);
    assert_eq!(err.trim_end().lines().count(), 1, "one line expected: {err:?}");
    assert!(err.contains(needle), "{err:?} should mention {needle:?}");
}

/// Start `cmd` (an `incident serve --listen 127.0.0.1:0 ...`, stderr piped) and wait for the line that
/// announces its address; lines logged before it (the store's, e.g. PostgreSQL NOTICEs on a schema that
/// exists) are skipped. Returns the process, the rest of its stderr, that line and the address.
#[allow(clippy::zombie_processes)] // the caller owns the child, and kills and waits for it
pub(crate) fn serve_announced(
    mut cmd: Command,
) -> (std::process::Child, std::io::BufReader<std::process::ChildStderr>, String, String) {
    use std::io::BufRead as _;
    let mut child = cmd.stderr(Stdio::piped()).spawn().expect("spawn incident serve");
    let mut err = std::io::BufReader::new(child.stderr.take().expect("stderr"));
    let mut before = String::new();
    loop {
        let mut line = String::new();
        let n = err.read_line(&mut line).expect("stderr line");
        assert!(n > 0, "incident serve exited before announcing its address:\n{before}");
        if let Some(addr) = line.split("http://").nth(1).and_then(|r| r.split_whitespace().next()) {
            let addr = addr.to_owned();
            return (child, err, line, addr);
        }
        before.push_str(&line);
    }
}

/// `POST path` with a JSON body (and a bearer token when given) over a fresh connection: the status and
/// the response body.
pub(crate) fn post(addr: &str, path: &str, token: Option<&str>, body: &[u8]) -> (u16, String) {
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\n{}Content-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        bearer(token),
        body.len()
    );
    exchange(addr, &head, body)
}

/// `GET path` (with a bearer token when given) over a fresh connection: the status and the response body.
pub(crate) fn get(addr: &str, path: &str, token: Option<&str>) -> (u16, String) {
    let head = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{}Connection: close\r\n\r\n", bearer(token));
    exchange(addr, &head, b"")
}

fn bearer(token: Option<&str>) -> String {
    token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default()
}

/// Send `head` and `body`, read the whole response (30 s at most): its status and body.
fn exchange(addr: &str, head: &str, body: &[u8]) -> (u16, String) {
    use std::io::Read as _;
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(std::time::Duration::from_secs(30))).expect("timeout");
    s.write_all(head.as_bytes()).expect("write");
    s.write_all(body).expect("write body");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    let status = out.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, out.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default())
}

/// One request a fake server received.
#[derive(Debug, Clone)]
pub(crate) struct Captured {
    pub(crate) method: String,
    /// Path and query.
    pub(crate) path: String,
    /// Header names lower-cased, in order.
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: String,
}

impl Captured {
    /// The first header `name` (lower-case), if any.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The body as JSON (`Null` when it is not).
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// Serve HTTP/1.1 on `listener` in a thread: each request (one per connection) is handed to `handle`,
/// which returns the status and JSON body to answer.
fn serve_requests(listener: std::net::TcpListener, mut handle: impl FnMut(Captured) -> (u16, String) + Send + 'static) {
    use std::io::{BufRead as _, Read as _};
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut s) = conn else { continue };
            let mut reader = std::io::BufReader::new(s.try_clone().expect("clone"));
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
                continue;
            }
            let mut parts = request_line.split_whitespace();
            let method = parts.next().unwrap_or_default().to_owned();
            let path = parts.next().unwrap_or_default().to_owned();
            let mut headers = Vec::new();
            let mut len = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some((name, value)) = line.split_once(':') {
                    let (name, value) = (name.trim().to_ascii_lowercase(), value.trim().to_owned());
                    if name == "content-length" {
                        len = value.parse().unwrap_or(0);
                    }
                    headers.push((name, value));
                }
            }
            let mut body = vec![0; len];
            if reader.read_exact(&mut body).is_err() {
                continue;
            }
            let body = String::from_utf8_lossy(&body).into_owned();
            let (status, reply) = handle(Captured { method, path, headers, body });
            let head = format!(
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                reply.len()
            );
            let _ = s.write_all(head.as_bytes());
            let _ = s.write_all(reply.as_bytes());
        }
    });
}

/// A plain HTTP server on loopback that answers 200 and keeps every request body.
pub(crate) fn capture_server() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let bodies = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = std::sync::Arc::clone(&bodies);
    serve_requests(listener, move |c| {
        kept.lock().expect("lock").push(c.body);
        (200, String::new())
    });
    (addr, bodies)
}

/// A provider fake on loopback: every request is kept, and answered with what `answer` returns for it
/// (a status and a JSON body; the fake checks the request shape there).
pub(crate) fn fake_server(
    answer: impl Fn(&Captured) -> (u16, String) + Send + 'static,
) -> (String, std::sync::Arc<std::sync::Mutex<Vec<Captured>>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = std::sync::Arc::clone(&seen);
    serve_requests(listener, move |c| {
        let reply = answer(&c);
        kept.lock().expect("lock").push(c);
        reply
    });
    (addr, seen)
}

/// The value of `name` (a service's address from `scripts/services`' env file), `None` to skip the test
/// when `INCIDENT_SKIP_SERVICES=1`; otherwise a missing variable fails the test, saying how to start them.
pub(crate) fn env_or_skip(name: &str) -> Option<String> {
    match std::env::var(name) {
        Ok(v) => Some(v),
        Err(_) if std::env::var("INCIDENT_SKIP_SERVICES").as_deref() == Ok("1") => None,
        Err(_) => panic!(
            "{name} is not set: run `scripts/services start` and `. ~/.cache/incident-core/services/env` \
             (or set INCIDENT_SKIP_SERVICES=1 to skip)"
        ),
    }
}

/// `kubectl --kubeconfig ADMIN ARGS` (`KUBECTL` overrides the binary) with `stdin`; its stdout, the test
/// failing with its stderr when it fails.
pub(crate) fn kubectl(admin: &str, args: &[&str], stdin: Option<&str>) -> String {
    let mut cmd = Command::new(std::env::var("KUBECTL").unwrap_or_else(|_| "kubectl".into()));
    cmd.arg("--kubeconfig").arg(admin).args(args);
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("kubectl");
    if let Some(text) = stdin {
        child.stdin.take().expect("stdin").write_all(text.as_bytes()).expect("write");
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().expect("kubectl");
    assert!(out.status.success(), "kubectl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}
