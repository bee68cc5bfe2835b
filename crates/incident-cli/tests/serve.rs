//! `incident serve`: a real process on loopback declares from a webhook into its SQLite store, stops
//! gracefully on SIGTERM, and refuses an unauthenticated non-loopback address.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

fn incident() -> Command {
    Command::new(env!("CARGO_BIN_EXE_incident"))
}

fn post(addr: &str, path: &str, token: &str, body: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).expect("write");
    s.write_all(body).expect("write body");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    let status = out.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, out.split("\r\n\r\n").nth(1).unwrap_or_default().to_owned())
}

#[test]
fn serve_declares_from_a_webhook_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let token = dir.path().join("token");
    std::fs::write(&token, "cli-t0ken\n").expect("token");
    let store = dir.path().join("incident.sqlite");
    let mut child = incident()
        .args(["serve", "--listen", "127.0.0.1:0", "--store"])
        .arg(&store)
        .arg("--token-file")
        .arg(&token)
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let mut line = String::new();
    stderr.read_line(&mut line).expect("first line");
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_owned();
    assert!(line.contains("auth on"), "{line}");

    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/alertmanager/firing-mixed.json");
    let body = std::fs::read(fixture).expect("fixture");
    let (status, text) = post(&addr, "/webhook/alertmanager", "cli-t0ken", &body);
    assert_eq!(status, 200, "{text}");
    assert!(text.contains(r#""outcome":"declared""#), "{text}");
    let (status, text) = post(&addr, "/webhook/alertmanager", "cli-t0ken", &body);
    assert!(status == 200 && text.contains(r#""outcome":"duplicate""#), "{status} {text}");
    let (status, _) = post(&addr, "/webhook/alertmanager", "wrong", &body);
    assert_eq!(status, 401);

    let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill");
    assert!(killed.success());
    let exit = child.wait().expect("wait");
    assert!(exit.success(), "{exit}");
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).expect("rest");
    assert!(rest.contains("incident serve: stopped"), "{rest}");

    // `incident ingest` shows the decision the receiver made, from the same core rule.
    let out = incident()
        .args(["ingest", "alertmanager"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/alertmanager/firing-mixed.json"))
        .output()
        .expect("ingest");
    assert!(String::from_utf8_lossy(&out.stdout).contains("declare an incident"), "{out:?}");
    assert!(store.exists());
}

#[test]
fn serve_refuses_a_public_address_without_authentication() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = incident()
        .args(["serve", "--listen", "0.0.0.0:0", "--store"])
        .arg(dir.path().join("s.sqlite"))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("refusing to serve 0.0.0.0:0 without authentication"), "{err}");
}
