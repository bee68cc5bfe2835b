//! Routes, authentication, body limits and the JSON error shape.

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use hmac::{Hmac, Mac};
use incident_core::ingest::sns::{MessageType, SnsMessage};
use incident_core::ingest::{AlertSource, cloudwatch};
use incident_core::{Error, ErrorKind, Policy};
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::sync::{mpsc, oneshot};

use crate::config::Auth;
use crate::metrics::Metrics;
use crate::sns::SnsVerifier;
use crate::writer::{GroupResult, Job, retryable};

/// Shared by every handler.
pub(crate) struct AppState {
    pub(crate) policy: Policy,
    pub(crate) auth: Auth,
    pub(crate) max_body: usize,
    /// The whole body must arrive within this (`408` otherwise).
    pub(crate) body_timeout: std::time::Duration,
    pub(crate) jobs: mpsc::Sender<Job>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) sns: SnsVerifier,
    /// Checked by `GET /readyz`.
    pub(crate) store: Arc<dyn incident_core::store::Store>,
    pub(crate) ready_checks: Vec<Arc<dyn crate::ReadyCheck>>,
    /// Added to `GET /metrics` and `GET /healthz`.
    pub(crate) components: Vec<Arc<dyn crate::Component>>,
    /// The drivers' lease, when a driver runs.
    pub(crate) lease: Option<Arc<crate::lease::LeaseState>>,
    pub(crate) clock: Arc<dyn incident_core::clock::Clock>,
    /// Set when shutdown begins: `/readyz` answers 503.
    pub(crate) draining: std::sync::atomic::AtomicBool,
}

impl AppState {
    pub(crate) fn clock_now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }
}

pub(crate) type Shared = Arc<AppState>;

/// A JSON error response: `{"error": {"kind": "...", "message": "..."}}`.
pub(crate) struct ApiError {
    status: StatusCode,
    kind: &'static str,
    message: String,
    reason: &'static str,
}

impl ApiError {
    pub(crate) fn new(
        status: StatusCode,
        kind: &'static str,
        reason: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Self { status, kind, message: message.into(), reason }
    }

    pub(crate) fn from_core(e: &Error) -> Self {
        let (status, reason) = match e.kind() {
            ErrorKind::InvalidInput | ErrorKind::Policy => (StatusCode::BAD_REQUEST, "invalid_payload"),
            ErrorKind::PermissionDenied => (StatusCode::FORBIDDEN, "signature"),
            ErrorKind::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            _ if retryable(e) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        Self::new(status, e.kind().as_str(), reason, e.message())
    }

    /// As [`ApiError::from_core`], with the SNS refusal's own `rejected_total` reason for a `403`.
    fn from_refusal(r: &crate::sns::Refusal) -> Self {
        let mut e = Self::from_core(&r.error);
        if e.status == StatusCode::FORBIDDEN {
            e.reason = r.reason;
        }
        e
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": {"kind": self.kind, "message": self.message}});
        let mut resp = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if self.status == StatusCode::REQUEST_TIMEOUT {
            resp.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        resp.extensions_mut().insert(RejectReason(self.reason));
        resp
    }
}

/// Why a request was refused, for the `rejected_total` metric.
#[derive(Clone, Copy)]
struct RejectReason(&'static str);

pub(crate) fn router(state: Shared) -> Router {
    let webhook = |source: AlertSource| {
        post(move |State(st): State<Shared>, headers: HeaderMap, body: Body| async move {
            webhook(st, source, headers, body).await
        })
    };
    Router::new()
        .route("/webhook/alertmanager", webhook(AlertSource::Alertmanager))
        .route("/webhook/pagerduty", webhook(AlertSource::Pagerduty))
        .route("/webhook/grafana", webhook(AlertSource::Grafana))
        .route("/webhook/datadog", webhook(AlertSource::Datadog))
        .route("/webhook/cloudwatch", post(cloudwatch_webhook))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/api/incidents", get(crate::api::list))
        .route("/api/incidents/{id}", get(crate::api::show))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(Arc::clone(&state), observe))
        .with_state(state)
}

/// Records every request: route, status, latency, rejections.
async fn observe(State(st): State<Shared>, req: Request, next: Next) -> Response {
    let started = tokio::time::Instant::now();
    let route: &'static str = match req.extensions().get::<MatchedPath>().map(MatchedPath::as_str) {
        Some("/webhook/alertmanager") => "/webhook/alertmanager",
        Some("/webhook/pagerduty") => "/webhook/pagerduty",
        Some("/webhook/grafana") => "/webhook/grafana",
        Some("/webhook/datadog") => "/webhook/datadog",
        Some("/webhook/cloudwatch") => "/webhook/cloudwatch",
        Some("/healthz") => "/healthz",
        Some("/readyz") => "/readyz",
        Some("/metrics") => "/metrics",
        Some("/api/incidents") => "/api/incidents",
        Some("/api/incidents/{id}") => "/api/incidents/{id}",
        _ => "other",
    };
    let resp = next.run(req).await;
    if let Some(RejectReason(reason)) = resp.extensions().get::<RejectReason>() {
        st.metrics.rejected(route, reason);
    }
    st.metrics.request(route, resp.status().as_u16(), started.elapsed());
    resp
}

async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "not_found",
        "no such route (see GET /healthz, /metrics, /api/incidents, POST /webhook/<source>)",
    )
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "invalid_input", "method", "method not allowed on this route")
}

async fn healthz(State(st): State<Shared>) -> Response {
    if st.jobs.is_closed() {
        return ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "unavailable", "writer stopped")
            .into_response();
    }
    if st.components.is_empty() {
        return axum::Json(json!({"status": "ok"})).into_response();
    }
    let components: serde_json::Map<String, serde_json::Value> =
        st.components.iter().map(|c| (c.name().to_owned(), c.health())).collect();
    axum::Json(json!({"status": "ok", "components": components})).into_response()
}

/// Ready for traffic: not shutting down, the writer running, the store reachable (its migrations ran
/// when it was opened: a store that cannot migrate never starts), every [`crate::ReadyCheck`] passing.
/// The body says whether this replica holds the drivers' lease.
async fn readyz(State(st): State<Shared>) -> Response {
    let mut failed: Vec<String> = Vec::new();
    if st.draining.load(std::sync::atomic::Ordering::SeqCst) {
        failed.push("shutting down".into());
    }
    if st.jobs.is_closed() {
        failed.push("writer stopped".into());
    }
    let probe = tokio::time::timeout(std::time::Duration::from_secs(2), st.store.incident("readyz-probe")).await;
    match probe {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => failed.push(format!("store: {}", e.message())),
        Err(_) => failed.push("store: no answer within 2s".into()),
    }
    for c in &st.ready_checks {
        if let Err(e) = c.check().await {
            failed.push(format!("{}: {}", c.name(), e.message()));
        }
    }
    let lease = st.lease.as_ref().map(|l| l.fence(st.clock_now()));
    let lease = match lease {
        None => json!({"drivers": false}),
        Some(None) => json!({"drivers": true, "held": false}),
        Some(Some(f)) => json!({"drivers": true, "held": true, "holder": f.holder, "token": f.token}),
    };
    if failed.is_empty() {
        axum::Json(json!({"status": "ready", "lease": lease})).into_response()
    } else {
        let body = json!({"status": "not_ready", "reasons": failed, "lease": lease});
        (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response()
    }
}

async fn metrics(State(st): State<Shared>) -> Response {
    let mut text = st.metrics.render();
    for c in &st.components {
        text.push_str(&c.metrics());
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response()
}

/// Read the body within `st.body_timeout` (`408` and the connection closed after it), up to
/// `st.max_body` bytes.
async fn read_body_bounded(st: &AppState, headers: &HeaderMap, body: Body) -> Result<Bytes, ApiError> {
    match tokio::time::timeout(st.body_timeout, read_body(headers, body, st.max_body)).await {
        Ok(r) => r,
        Err(_) => {
            st.metrics.timeout(crate::metrics::TimeoutKind::Body);
            Err(ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "timeout",
                "body_timeout",
                format!("the request body did not arrive within receiver.body_timeout ({:?})", st.body_timeout),
            ))
        }
    }
}

/// Read the body up to `limit` bytes: `413` beyond (by `Content-Length` before reading, or while reading).
async fn read_body(headers: &HeaderMap, body: Body, limit: usize) -> Result<Bytes, ApiError> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_input",
            "too_large",
            format!("request body exceeds limits.max_payload_bytes ({limit} bytes)"),
        )
    };
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        while let Some(s) = source {
            if s.to_string().contains("length limit exceeded") {
                return too_large();
            }
            source = s.source();
        }
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_input", "invalid_payload", format!("cannot read the body: {e}"))
    })
}

fn sha256(b: &[u8]) -> [u8; 32] {
    Sha256::digest(b).into()
}

/// `Ok` when any configured method accepts the request (see [`Auth`]).
pub(crate) fn authenticate(auth: &Auth, headers: &HeaderMap, body: &[u8]) -> Result<(), ApiError> {
    if !auth.is_enabled() {
        return Ok(());
    }
    if let Some(token) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
    {
        // Compare digests: constant time, and the length of the token is not leaked either.
        let got = sha256(token.trim().as_bytes());
        let ok =
            auth.bearer_tokens.iter().fold(0u8, |acc, t| acc | got.ct_eq(&sha256(t.expose().as_bytes())).unwrap_u8());
        if ok == 1 {
            return Ok(());
        }
    }
    if let (Some(key), Some(sig)) =
        (&auth.hmac_key, headers.get(auth.hmac_header.as_str()).and_then(|v| v.to_str().ok()))
    {
        let hex_sig = sig.trim().strip_prefix("sha256=").unwrap_or(sig.trim());
        if let (Ok(expected), Ok(mut mac)) =
            (hex::decode(hex_sig), Hmac::<Sha256>::new_from_slice(key.expose().as_bytes()))
        {
            mac.update(body);
            if mac.verify_slice(&expected).is_ok() {
                return Ok(());
            }
        }
    }
    Err(ApiError::new(
        StatusCode::UNAUTHORIZED,
        "permission_denied",
        "unauthorized",
        format!(
            "missing or invalid credentials (Authorization: Bearer <token>{})",
            if auth.hmac_key.is_some() { format!(" or {}: sha256=<hmac>", auth.hmac_header) } else { String::new() }
        ),
    ))
}

/// Queue the groups for the writer and wait for the commit.
async fn submit(
    st: &AppState,
    groups: Vec<incident_core::ingest::group::AlertGroup>,
) -> Result<Vec<GroupResult>, ApiError> {
    if groups.is_empty() {
        return Ok(Vec::new());
    }
    let (tx, rx) = oneshot::channel();
    st.jobs.try_send(Job { groups, reply: tx }).map_err(|e| match e {
        mpsc::error::TrySendError::Full(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "overloaded",
            "receiver queue full; retry later",
        ),
        mpsc::error::TrySendError::Closed(_) => {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "unavailable", "receiver is shutting down")
        }
    })?;
    match rx.await {
        Ok(Ok(results)) => Ok(results),
        Ok(Err(e)) => Err(ApiError::from_core(&e)),
        Err(_) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "unavailable",
            "receiver is shutting down",
        )),
    }
}

fn accepted(source: AlertSource, alerts: usize, results: &[GroupResult]) -> Response {
    axum::Json(json!({"source": source.as_str(), "alerts": alerts, "groups": results})).into_response()
}

async fn webhook(st: Shared, source: AlertSource, headers: HeaderMap, body: Body) -> Response {
    let result: Result<Response, ApiError> = async {
        let bytes = read_body_bounded(&st, &headers, body).await?;
        authenticate(&st.auth, &headers, &bytes)?;
        let batch = source.parse(&bytes, &st.policy).map_err(|e| ApiError::from_core(&e))?;
        st.metrics.alerts(source, batch.alerts.len());
        let results = submit(&st, batch.groups()).await?;
        Ok(accepted(source, batch.alerts.len(), &results))
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

async fn cloudwatch_webhook(State(st): State<Shared>, headers: HeaderMap, body: Body) -> Response {
    let result: Result<Response, ApiError> = async {
        let bytes = read_body_bounded(&st, &headers, body).await?;
        let msg = SnsMessage::parse(&bytes, &st.policy).map_err(|e| ApiError::from_core(&e))?;
        if let Err(r) = st.sns.verify(&msg).await {
            if r.reason == "topic" {
                // Logged, never confirmed: an operator who expected it allows the topic.
                tracing::warn!(
                    topic = %msg.topic_arn,
                    kind = msg.kind.as_str(),
                    "receiver: SNS {} refused: topic not on the allow-list (add --sns-topic or receiver.sns.topics)",
                    if msg.kind == MessageType::SubscriptionConfirmation { "subscription" } else { "message" }
                );
            } else {
                tracing::warn!(topic = %msg.topic_arn, reason = r.reason, error = %r.error, "receiver: SNS delivery refused");
            }
            return Err(ApiError::from_refusal(&r));
        }
        match msg.kind {
            MessageType::SubscriptionConfirmation => {
                if !st.sns.config().confirm_subscriptions {
                    tracing::warn!(topic = %msg.topic_arn, "receiver: SNS subscription awaits manual confirmation");
                    return Ok((
                        StatusCode::ACCEPTED,
                        axum::Json(json!({"subscription": "pending", "topic": msg.topic_arn})),
                    )
                        .into_response());
                }
                st.sns.confirm(&msg).await.map_err(|e| ApiError::from_core(&e))?;
                tracing::info!(topic = %msg.topic_arn, "receiver: SNS subscription confirmed");
                Ok(axum::Json(json!({"subscription": "confirmed", "topic": msg.topic_arn})).into_response())
            }
            MessageType::UnsubscribeConfirmation => {
                tracing::warn!(topic = %msg.topic_arn, "receiver: SNS subscription removed");
                Ok(axum::Json(json!({"subscription": "removed", "topic": msg.topic_arn})).into_response())
            }
            MessageType::Notification => {
                let batch =
                    cloudwatch::parse_alarm(msg.message.as_bytes(), &st.policy).map_err(|e| ApiError::from_core(&e))?;
                st.metrics.alerts(AlertSource::Cloudwatch, batch.alerts.len());
                let results = submit(&st, batch.groups()).await?;
                Ok(accepted(AlertSource::Cloudwatch, batch.alerts.len(), &results))
            }
        }
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}
