//! Load generator for `scripts/bench-receiver`: an open-loop Alertmanager webhook sender on loopback
//! (bounded in count and time), and the check that every acknowledged alert is in the store.
//!
//! ```text
//! loadgen send   --url http://127.0.0.1:PORT/webhook/alertmanager[,URL2,...] --token-file F --rate 5000 --seconds 10
//!                [--groups 100] [--connections 128] [--alerts-per-request 1] [--run RUN] [--acked FILE]
//!                [--deadline-seconds 60]
//! loadgen verify --store FILE|postgres://... --run RUN --acked FILE
//! loadgen serve  --listen 127.0.0.1:PORT --store FILE [--token-file F]
//! ```
//!
//! `serve` is what `incident serve` runs (the receiver on a SQLite store, bearer token, SIGTERM/Ctrl-C
//! graceful shutdown) without the rest of the CLI, so the benchmark can run where the CLI's other
//! adapters are not built.
//!
//! `send` schedules request `i` at `start + i / (rate / alerts-per-request)` and measures latency from
//! that scheduled time (so a stalled receiver cannot hide queueing: no coordinated omission). Each
//! request carries new alerts (fingerprint `RUN-i-j`) of group `i % groups`. A request that fails
//! (connection refused or reset while the receiver restarts, `5xx`) is retried on a fresh connection
//! until it is acknowledged or the deadline passes; the ids of acknowledged alerts go to `--acked`.
//! Latency figures are reported for first-try successes and for all requests.
//!
//! `verify` reads every timeline of the SQLite or PostgreSQL store (verifying its hash chain) and counts,
//! for the run, alerts sent, acknowledged and stored; exit status 1 if an acknowledged alert is missing
//! or an alert group has two incidents. With several `--url`s (replicas), connection `k` sends to the
//! `k mod n`th.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::sync::Arc;
use std::time::Duration;

use incident_core::store::Store;
use incident_core::timeline::EventKind;
use incident_store::SqliteStore;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::task::JoinSet;
use tokio::time::Instant;

type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned()
}

fn num<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> Res<T> {
    match arg(args, name) {
        Some(v) => v.parse().map_err(|_| format!("{name}: not a number: {v}").into()),
        None => Ok(default),
    }
}

struct Target {
    addr: String,
    host: String,
    path: String,
    token: Option<String>,
}

fn target(url: &str, token: Option<String>) -> Res<Target> {
    let rest = url.strip_prefix("http://").ok_or("--url must be http://127.0.0.1:PORT/...")?;
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let host = authority.split(':').next().unwrap_or_default();
    if host != "127.0.0.1" && host != "localhost" && host != "[::1]" {
        return Err("loopback targets only (127.0.0.1, localhost, [::1])".into());
    }
    Ok(Target {
        addr: authority.to_owned(),
        host: authority.to_owned(),
        path: if path.is_empty() { "/".to_owned() } else { path.to_owned() },
        token,
    })
}

fn body(run: &str, i: u64, per: u64, groups: u64) -> String {
    let g = i % groups;
    let alerts: Vec<String> = (0..per)
        .map(|j| {
            format!(
                r#"{{"status":"firing","fingerprint":"{run}-{i}-{j}","startsAt":"2024-05-03T14:00:00Z","endsAt":"0001-01-01T00:00:00Z","labels":{{"alertname":"HighErrorRate","service":"svc-{g}","instance":"i-{i}-{j}","severity":"critical"}},"annotations":{{"value":"0.12","summary":"load"}}}}"#
            )
        })
        .collect();
    format!(
        r#"{{"version":"4","groupKey":"{{}}:{{bench=\"{run}\",group=\"{g}\"}}","status":"firing","receiver":"bench","alerts":[{}]}}"#,
        alerts.join(",")
    )
}

fn request(t: &Target, body: &str) -> Vec<u8> {
    let auth = t.token.as_deref().map(|k| format!("Authorization: Bearer {k}\r\n")).unwrap_or_default();
    format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n{auth}Content-Length: {}\r\n\r\n{body}",
        t.path,
        t.host,
        body.len()
    )
    .into_bytes()
}

/// Send one request on `conn` and return the status code.
async fn exchange(conn: &mut TcpStream, req: &[u8], buf: &mut Vec<u8>) -> Res<u16> {
    conn.write_all(req).await?;
    buf.clear();
    let mut chunk = [0u8; 4096];
    let header_end = loop {
        let n = conn.read(&mut chunk).await?;
        if n == 0 {
            return Err("connection closed".into());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
        if buf.len() > 64 * 1024 {
            return Err("response header too large".into());
        }
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).to_ascii_lowercase();
    let status: u16 = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).ok_or("bad status line")?;
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or("no content-length")?;
    while buf.len() < header_end + len {
        let n = conn.read(&mut chunk).await?;
        if n == 0 {
            return Err("connection closed in body".into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(status)
}

#[derive(Default)]
struct Stats {
    first_try: Vec<Duration>,
    all: Vec<Duration>,
    retried: u64,
    failed: u64,
    acked: Vec<u64>,
}

#[allow(clippy::too_many_arguments)]
async fn connection(
    k: u64,
    conns: u64,
    total: u64,
    interval: Duration,
    start: Instant,
    deadline: Instant,
    t: Arc<Target>,
    run: Arc<str>,
    per: u64,
    groups: u64,
) -> Stats {
    let mut stats = Stats::default();
    let mut conn: Option<TcpStream> = None;
    let mut buf = Vec::with_capacity(8192);
    let mut i = k;
    while i < total {
        let scheduled = start + interval.mul_f64(i as f64);
        tokio::time::sleep_until(scheduled).await;
        let req = request(&t, &body(&run, i, per, groups));
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let ok = async {
                if conn.is_none() {
                    let c = TcpStream::connect(&t.addr).await?;
                    c.set_nodelay(true)?;
                    conn = Some(c);
                }
                let c = conn.as_mut().ok_or("no connection")?;
                let status = exchange(c, &req, &mut buf).await?;
                if status == 200 { Ok(()) } else { Err(format!("HTTP {status}").into()) }
            };
            let r: Res<()> =
                tokio::time::timeout(Duration::from_secs(5), ok).await.unwrap_or_else(|_| Err("timeout".into()));
            match r {
                Ok(()) => {
                    let latency = scheduled.elapsed();
                    if attempt == 1 {
                        stats.first_try.push(latency);
                    } else {
                        stats.retried += 1;
                    }
                    stats.all.push(latency);
                    stats.acked.push(i);
                    break;
                }
                Err(_) => {
                    conn = None;
                    if Instant::now() > deadline {
                        stats.failed += 1;
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(20 * u64::from(attempt.min(10)))).await;
                }
            }
        }
        i += conns;
    }
    stats
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[idx].as_secs_f64() * 1000.0
}

async fn send(args: &[String]) -> Res<()> {
    let url = arg(args, "--url").ok_or("--url is required")?;
    let token = match arg(args, "--token-file") {
        Some(f) => Some(std::fs::read_to_string(f)?.lines().next().unwrap_or_default().trim().to_owned()),
        None => None,
    };
    // Several replicas: `--url A,B,C`, connection k sends to target k mod n.
    let targets: Vec<Arc<Target>> =
        url.split(',').map(|u| target(u.trim(), token.clone()).map(Arc::new)).collect::<Res<_>>()?;
    let rate: f64 = num(args, "--rate", 5000.0)?;
    let seconds: f64 = num(args, "--seconds", 10.0)?;
    let groups: u64 = num(args, "--groups", 100)?;
    let conns: u64 = num(args, "--connections", 128)?;
    let per: u64 = num(args, "--alerts-per-request", 1)?;
    let deadline_s: f64 = num(args, "--deadline-seconds", seconds + 60.0)?;
    let run: Arc<str> = arg(args, "--run").unwrap_or_else(|| "bench".to_owned()).into();
    if !(rate > 0.0 && rate <= 50_000.0 && seconds > 0.0 && seconds <= 120.0 && per >= 1 && groups >= 1 && conns >= 1) {
        return Err("bounds: 0 < rate <= 50000 alerts/s, 0 < seconds <= 120, counts >= 1".into());
    }
    let requests_per_s = rate / per as f64;
    let total = (requests_per_s * seconds).round() as u64;
    let interval = Duration::from_secs_f64(1.0 / requests_per_s);
    let start = Instant::now() + Duration::from_millis(200);
    let deadline = start + Duration::from_secs_f64(deadline_s);
    let mut set = JoinSet::new();
    for k in 0..conns.min(total) {
        set.spawn(connection(
            k,
            conns,
            total,
            interval,
            start,
            deadline,
            Arc::clone(&targets[usize::try_from(k).unwrap_or(0) % targets.len()]),
            Arc::clone(&run),
            per,
            groups,
        ));
    }
    let mut all = Stats::default();
    while let Some(s) = set.join_next().await {
        let s = s?;
        all.first_try.extend(s.first_try);
        all.all.extend(s.all);
        all.retried += s.retried;
        all.failed += s.failed;
        all.acked.extend(s.acked);
    }
    let elapsed = start.elapsed().as_secs_f64();
    all.first_try.sort_unstable();
    all.all.sort_unstable();
    let acked_alerts = all.acked.len() as u64 * per;
    println!(
        "sent {} requests ({} alerts, {per}/request, {groups} groups, {conns} connections) at a scheduled {rate:.0} alerts/s for {seconds}s",
        total,
        total * per
    );
    println!(
        "acknowledged {} requests ({acked_alerts} alerts) in {elapsed:.2}s; retried after a failure: {}; given up: {}",
        all.acked.len(),
        all.retried,
        all.failed
    );
    println!(
        "latency first try (ms): p50 {:.2} p90 {:.2} p99 {:.2} p99.9 {:.2} max {:.2} (n={})",
        pct(&all.first_try, 0.50),
        pct(&all.first_try, 0.90),
        pct(&all.first_try, 0.99),
        pct(&all.first_try, 0.999),
        pct(&all.first_try, 1.0),
        all.first_try.len()
    );
    println!(
        "latency all (ms): p50 {:.2} p99 {:.2} max {:.2}",
        pct(&all.all, 0.50),
        pct(&all.all, 0.99),
        pct(&all.all, 1.0)
    );
    if let Some(path) = arg(args, "--acked") {
        let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
        for i in &all.acked {
            for j in 0..per {
                writeln!(f, "{run}-{i}-{j}")?;
            }
        }
        f.flush()?;
    }
    if all.failed > 0 {
        return Err(format!("{} requests were never acknowledged", all.failed).into());
    }
    Ok(())
}

async fn verify(args: &[String]) -> Res<()> {
    let path = arg(args, "--store").ok_or("--store is required")?;
    let run = arg(args, "--run").unwrap_or_else(|| "bench".to_owned());
    let acked: BTreeSet<String> = match arg(args, "--acked") {
        Some(f) => std::fs::read_to_string(f)?.lines().map(str::to_owned).collect(),
        None => BTreeSet::new(),
    };
    let store: Box<dyn Store> = if path.starts_with("postgres://") || path.starts_with("postgresql://") {
        let url = incident_datastores::ConnectionString::parse(&path)?;
        Box::new(incident_store::PgStore::connect(&url).await?)
    } else {
        Box::new(SqliteStore::open(&path)?)
    };
    let path = if path.contains('@') { "postgres://...".to_owned() } else { path };
    let prefix = format!("{run}-");
    let mut stored = BTreeSet::new();
    let mut records = 0u64;
    let mut incidents = 0u64;
    let mut per_group = std::collections::BTreeMap::new();
    for i in store.incidents().await? {
        let tl = store.timeline(&i.id).await?; // verifies the hash chain
        let mut mine = false;
        for e in tl.events() {
            if let EventKind::AlertsReceived { alerts, .. } = &e.kind {
                for a in alerts.iter().filter(|a| a.id.starts_with(&prefix)) {
                    mine = true;
                    records += 1;
                    stored.insert(a.id.clone());
                }
            }
        }
        incidents += u64::from(mine);
        if mine && let Some(state) = incident_core::ingest::group::GroupState::replay(&tl) {
            *per_group.entry(state.key).or_insert(0u64) += 1;
        }
    }
    let doubled = per_group.values().filter(|n| **n > 1).count();
    let missing: Vec<&String> = acked.difference(&stored).collect();
    println!(
        "store {path}: {incidents} incidents, {} distinct alerts of run {run} stored ({records} records, {} recorded twice); acknowledged {}; acknowledged but missing {}",
        stored.len(),
        records - stored.len() as u64,
        acked.len(),
        missing.len()
    );
    if !missing.is_empty() {
        return Err(format!("lost {} acknowledged alerts, e.g. {:?}", missing.len(), missing.first()).into());
    }
    if doubled > 0 {
        return Err(format!("{doubled} alert groups have two incidents").into());
    }
    Ok(())
}

async fn serve(args: &[String]) -> Res<()> {
    let listen = arg(args, "--listen").ok_or("--listen is required")?;
    let path = arg(args, "--store").ok_or("--store is required")?;
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path)?);
    let mut config = incident_receiver::ReceiverConfig::new(store);
    if let Some(f) = arg(args, "--token-file") {
        config = config.auth(incident_receiver::Auth::bearer(incident_receiver::Secret::from_file(f)?));
    }
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    eprintln!("loadgen serve: listening on http://{}", listener.local_addr()?);
    incident_receiver::serve(listener, config, incident_receiver::shutdown_signal()).await?;
    Ok(())
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let r = match args.first().map(String::as_str) {
        Some("send") => send(&args).await,
        Some("verify") => verify(&args).await,
        Some("serve") => serve(&args).await,
        _ => Err("usage: loadgen send|verify|serve ... (see the file's docs)".into()),
    };
    if let Err(e) = r {
        eprintln!("loadgen: {e}");
        std::process::exit(1);
    }
}
