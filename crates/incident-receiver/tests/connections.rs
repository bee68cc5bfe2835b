//! The receiver on a hostile network, over real loopback sockets: slowloris headers and bodies are cut
//! off by the header and body timeouts while `/healthz` and a valid webhook still answer; an idle
//! keep-alive connection is closed after the idle timeout; at the connection cap the longest-idle
//! connection is shed so a new one gets in; graceful shutdown does not wait for idle connections.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use incident_core::store::MemoryStore;
use incident_core::{HumanDuration, Policy};
use incident_receiver::{Metrics, Receiver, ReceiverConfig};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::time::Instant;

struct Running {
    addr: String,
    metrics: Arc<Metrics>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<incident_core::Result<()>>,
}

async fn run(policy: Policy) -> Running {
    let config = ReceiverConfig::new(Arc::new(MemoryStore::new())).policy(policy);
    let receiver = Receiver::start(config).await.expect("start");
    let metrics = receiver.metrics_handle();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let (stop, stop_rx) = oneshot::channel::<()>();
    #[allow(clippy::disallowed_methods)] // the receiver under test; joined at the end of each test
    let task = tokio::spawn(receiver.serve(listener, async move {
        let _ = stop_rx.await;
    }));
    Running { addr, metrics, stop: Some(stop), task }
}

impl Running {
    async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("graceful shutdown within 10 s")
            .expect("join")
            .expect("serve");
    }
}

fn policy(header: u64, body: u64, idle: u64, max_connections: u32) -> Policy {
    let mut p = Policy::default();
    p.receiver.header_timeout = HumanDuration::from_secs(header);
    p.receiver.body_timeout = HumanDuration::from_secs(body);
    p.receiver.idle_timeout = HumanDuration::from_secs(idle);
    p.receiver.max_connections = max_connections;
    p
}

/// One request on a new connection (`Connection: close`): status and body. Fails the test after 5 s.
async fn request(addr: &str, method: &str, path: &str, body: &[u8]) -> (u16, String) {
    let fut = async {
        let mut s = TcpStream::connect(addr).await.expect("connect");
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n",
            body.len()
        );
        s.write_all(head.as_bytes()).await.expect("write");
        s.write_all(body).await.expect("write body");
        let mut out = Vec::new();
        s.read_to_end(&mut out).await.expect("read");
        let out = String::from_utf8_lossy(&out).into_owned();
        let status = out.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
        (status, out.split("\r\n\r\n").nth(1).unwrap_or_default().to_owned())
    };
    tokio::time::timeout(Duration::from_secs(5), fut)
        .await
        .unwrap_or_else(|_| panic!("{method} {path}: no answer in 5 s"))
}

fn webhook_body() -> Vec<u8> {
    let p =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../incident-core/tests/fixtures/alertmanager/firing-mixed.json");
    std::fs::read(p).expect("fixture")
}

/// Send `prefix` at once, then `trickle` one byte a second until the server closes the connection or
/// `give_up` passes: how long the connection stayed open (`None`: still open) and what the server sent.
async fn slow_client(addr: String, prefix: Vec<u8>, trickle: Vec<u8>, give_up: Duration) -> (Option<Duration>, String) {
    let started = Instant::now();
    let mut s = TcpStream::connect(&addr).await.expect("connect");
    let (mut rd, mut wr) = s.split();
    if !prefix.is_empty() {
        let _ = wr.write_all(&prefix).await;
    }
    let mut next = trickle.into_iter();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::sleep(give_up);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            r = rd.read(&mut buf) => match r {
                Ok(0) | Err(_) => return (Some(started.elapsed()), String::from_utf8_lossy(&got).into_owned()),
                Ok(n) => got.extend_from_slice(&buf[..n]),
            },
            _ = tick.tick() => {
                if let Some(b) = next.next() {
                    let _ = wr.write_all(&[b]).await;
                }
            }
            () = &mut deadline => return (None, String::from_utf8_lossy(&got).into_owned()),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_headers_and_bodies_are_cut_off_while_healthz_and_webhooks_answer() {
    // Header timeout 3 s, body timeout 4 s: both far beyond what a healthy client needs on loopback.
    let r = run(policy(3, 4, 30, 512)).await;
    let head = b"POST /webhook/alertmanager HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n".to_vec();
    let mut slow = tokio::task::JoinSet::new();
    // 100 sockets sending their headers at 1 byte/s, 100 sending a complete head then the body at 1 byte/s.
    for _ in 0..100 {
        slow.spawn(slow_client(r.addr.clone(), Vec::new(), head.repeat(4), Duration::from_secs(10)));
    }
    let body_head = b"POST /webhook/alertmanager HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"alerts\": [";
    for _ in 0..100 {
        slow.spawn(slow_client(r.addr.clone(), body_head.to_vec(), vec![b' '; 100], Duration::from_secs(10)));
    }
    let t = Instant::now();
    while r.metrics.open_connections() < 200 && t.elapsed() < Duration::from_millis(1500) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(r.metrics.open_connections() >= 190, "the slow clients are connected: {}", r.metrics.open_connections());
    // While they are held open, health and a valid webhook answer at once.
    let t = Instant::now();
    let (status, text) = request(&r.addr, "GET", "/healthz", b"").await;
    assert_eq!(status, 200, "{text}");
    let (status, text) = request(&r.addr, "POST", "/webhook/alertmanager", &webhook_body()).await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains(r#""outcome":"declared""#), "{text}");
    assert!(
        t.elapsed() < Duration::from_millis(1500),
        "answered in {:?}, while the slow sockets were open",
        t.elapsed()
    );

    let mut header_closed = 0;
    let mut body_closed = 0;
    while let Some(res) = slow.join_next().await {
        let (closed, got) = res.expect("join");
        let after = closed.unwrap_or_else(|| panic!("a slow connection is still open after 10 s (got {got:?})"));
        assert!(after < Duration::from_secs(7), "closed only after {after:?}");
        if got.starts_with("HTTP/1.1 408") {
            assert!(got.contains("receiver.body_timeout"), "{got}");
            body_closed += 1;
        } else {
            header_closed += 1;
        }
    }
    assert_eq!((header_closed, body_closed), (100, 100));
    assert_eq!(r.metrics.timeouts("header"), 100);
    assert_eq!(r.metrics.timeouts("body"), 100);
    r.stop().await;
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let r = run(policy(30, 30, 1, 512)).await;
    let mut s = TcpStream::connect(&r.addr).await.expect("connect");
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.expect("write");
    let mut buf = vec![0u8; 4096];
    let n = s.read(&mut buf).await.expect("response");
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"), "keep-alive answered");
    let t = Instant::now();
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
        .await
        .expect("the idle connection is closed within 5 s")
        .unwrap_or(0);
    assert_eq!(n, 0, "closed, nothing more sent");
    assert!(t.elapsed() >= Duration::from_millis(900), "not before the idle timeout: {:?}", t.elapsed());
    assert_eq!(r.metrics.timeouts("idle"), 1);
    r.stop().await;
}

#[tokio::test]
async fn at_the_connection_cap_the_longest_idle_connection_is_shed_for_a_new_one() {
    let r = run(policy(30, 30, 30, 8)).await;
    let mut idle = Vec::new();
    for _ in 0..8 {
        idle.push(TcpStream::connect(&r.addr).await.expect("connect"));
        // Distinct idle ages, oldest first.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let t = Instant::now();
    while r.metrics.open_connections() < 8 && t.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(r.metrics.open_connections(), 8);
    let (status, text) = request(&r.addr, "GET", "/healthz", b"").await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(r.metrics.connections_shed(), 1);
    // The oldest was closed; the newest is still open.
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(Duration::from_secs(2), idle[0].read(&mut buf)).await.expect("oldest closed");
    assert_eq!(n.unwrap_or(0), 0);
    assert!(
        tokio::time::timeout(Duration::from_millis(300), idle[7].read(&mut buf)).await.is_err(),
        "the newest idle connection stays open"
    );
    // Back at the cap (the /healthz connection closed), a valid webhook gets in too, shedding the next oldest.
    idle.push(TcpStream::connect(&r.addr).await.expect("connect"));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(r.metrics.open_connections(), 8);
    let (status, text) = request(&r.addr, "POST", "/webhook/alertmanager", &webhook_body()).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(r.metrics.connections_shed(), 2);
    let n = tokio::time::timeout(Duration::from_secs(2), idle[1].read(&mut buf)).await.expect("next oldest closed");
    assert_eq!(n.unwrap_or(0), 0);
    r.stop().await;
}

#[tokio::test]
async fn graceful_shutdown_finishes_without_waiting_for_idle_connections() {
    let r = run(policy(30, 30, 30, 512)).await;
    let mut keep = TcpStream::connect(&r.addr).await.expect("connect");
    keep.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.expect("write");
    let mut buf = vec![0u8; 4096];
    let n = keep.read(&mut buf).await.expect("response");
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    let _silent = TcpStream::connect(&r.addr).await.expect("connect");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let t = Instant::now();
    r.stop().await;
    assert!(t.elapsed() < Duration::from_secs(2), "stopped in {:?}", t.elapsed());
}
