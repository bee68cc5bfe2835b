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
