//! Region checks and credentials: STS caller identity (moto), AWS Health (moto has none:
//! `aws-smithy-mocks`, with throttling retried and a non-retryable error), EKS credentials and token
//! (moto), and clear errors for a missing region or missing credentials.

mod common;

use aws_sdk_health::operation::describe_events::{DescribeEventsError, DescribeEventsOutput};
use aws_sdk_health::types::{Event, EventStatusCode};
use aws_smithy_mocks::mock;
use aws_smithy_types::error::ErrorMetadata;
use base64::Engine as _;
use chrono::DateTime;
use common::{KEY_ID, PRIMARY, SECONDARY, SECRET, assert_no_secret, config, health_client, moto};
use incident_aws::{AwsBackends, AwsConfig, StaticCredentials};
use incident_core::{ErrorKind, Result};

/// An adapter that never reaches a server (Health is injected per test).
async fn offline() -> AwsBackends {
    AwsBackends::connect(AwsConfig { endpoint_url: Some("http://127.0.0.1:9".into()), ..config("http://127.0.0.1:9") })
        .await
        .expect("connect")
}

fn event(service: &str, code: &str, status: EventStatusCode) -> Event {
    Event::builder()
        .service(service)
        .region(PRIMARY)
        .event_type_code(code)
        .status_code(status)
        .start_time(aws_smithy_types::DateTime::from_secs(1_800_000_000))
        .build()
}

fn denied() -> DescribeEventsError {
    DescribeEventsError::generic(
        ErrorMetadata::builder()
            .code("AccessDeniedException")
            .message(format!("User {KEY_ID} is not authorized to perform health:DescribeEvents"))
            .build(),
    )
}

fn throttled() -> DescribeEventsError {
    DescribeEventsError::generic(ErrorMetadata::builder().code("ThrottlingException").message("Rate exceeded").build())
}

#[tokio::test]
async fn health_events_are_filtered_mapped_and_paginated() -> Result<()> {
    let first = mock!(aws_sdk_health::Client::describe_events)
        .match_requests(|r| {
            r.next_token().is_none()
                && r.filter().is_some_and(|f| {
                    f.regions() == [PRIMARY.to_owned()]
                        && f.services() == ["EC2".to_owned(), "RDS".to_owned(), "EKS".to_owned()]
                        && f.event_status_codes() == [EventStatusCode::Open, EventStatusCode::Upcoming]
                })
        })
        .then_output(|| {
            DescribeEventsOutput::builder()
                .events(event("EC2", "AWS_EC2_OPERATIONAL_ISSUE", EventStatusCode::Open))
                .next_token("page-2")
                .build()
        });
    let second = mock!(aws_sdk_health::Client::describe_events)
        .match_requests(|r| r.next_token() == Some("page-2"))
        .then_output(|| {
            DescribeEventsOutput::builder()
                .events(event("RDS", "AWS_RDS_MAINTENANCE_SCHEDULED", EventStatusCode::Upcoming))
                .build()
        });
    let client = health_client(&[&first, &second]);
    let aws = offline().await.with_health_client(client);
    let services = ["ec2".to_owned(), "RDS".to_owned(), "eks".to_owned()];
    let events = aws.cloud().health_events(PRIMARY, &services).await?;
    assert_eq!(events.len(), 2);
    assert_eq!((events[0].service.as_str(), events[0].status.as_str()), ("EC2", "open"));
    assert_eq!(events[0].start_time, DateTime::from_timestamp(1_800_000_000, 0));
    assert_eq!((events[1].code.as_str(), events[1].status.as_str()), ("AWS_RDS_MAINTENANCE_SCHEDULED", "upcoming"));
    assert_eq!((first.num_calls(), second.num_calls()), (1, 1));
    Ok(())
}

#[tokio::test]
async fn throttling_is_retried_with_backoff_then_reported_as_unavailable() -> Result<()> {
    // Two 503s and a throttling error, then success: the SDK's standard retry (3 attempts, jittered
    // exponential backoff) absorbs the first two; the third surfaces as a retryable `Unavailable` that
    // the engine retries with its own backoff.
    let rule = mock!(aws_sdk_health::Client::describe_events)
        .sequence()
        .http_status(503, None)
        .times(2)
        .output(|| DescribeEventsOutput::builder().build())
        .error(throttled)
        .times(3)
        .output(|| DescribeEventsOutput::builder().events(event("EKS", "AWS_EKS_ISSUE", EventStatusCode::Open)).build())
        .build();
    let client = health_client(&[&rule]);
    let aws = offline().await.with_health_client(client);
    let cloud = aws.cloud();
    assert!(cloud.health_events(PRIMARY, &[]).await?.is_empty());
    assert_eq!(rule.num_calls(), 3, "two retried 503s, then the answer");

    let e = cloud.health_events(PRIMARY, &[]).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
    assert!(e.is_retryable());
    assert!(e.to_string().contains("health:DescribeEvents failed: ThrottlingException"), "{e}");
    assert_eq!(rule.num_calls(), 6);
    let events = cloud.health_events(PRIMARY, &[]).await?;
    assert_eq!(events.len(), 1);
    Ok(())
}

#[tokio::test]
async fn access_denied_is_not_retried_and_names_no_credential() -> Result<()> {
    let rule = mock!(aws_sdk_health::Client::describe_events).sequence().error(denied).build();
    let client = health_client(&[&rule]);
    let aws = offline().await.with_health_client(client);
    let e = aws.cloud().health_events(PRIMARY, &[]).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
    assert!(!e.is_retryable());
    assert_eq!(rule.num_calls(), 1, "not retried");
    assert!(e.to_string().contains("AccessDeniedException"), "{e}");
    assert_no_secret([("error", e.to_string()), ("error debug", format!("{e:?}")), ("aws debug", format!("{aws:?}"))]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caller_identity_and_eks_credentials_from_moto() -> Result<()> {
    let Some(m) = moto().await else { return Ok(()) };
    assert_eq!(m.aws.cloud().caller_identity(SECONDARY).await?, common::ACCOUNT);
    assert_eq!(m.aws.cloud().caller_identity("").await.unwrap_err().kind(), ErrorKind::InvalidInput);

    m.aws
        .eks_client(SECONDARY)?
        .create_cluster()
        .name("ml-platform-secondary")
        .role_arn(format!("arn:aws:iam::{}:role/eks", common::ACCOUNT))
        .resources_vpc_config(aws_sdk_eks::types::VpcConfigRequest::builder().build())
        .send()
        .await
        .expect("create_cluster");
    let now = DateTime::from_timestamp(1_800_000_000, 0).expect("time");
    let creds = m.aws.eks_credentials(SECONDARY, "ml-platform-secondary", now).await?;
    assert!(creds.endpoint.starts_with("https://") && creds.endpoint.contains(SECONDARY), "{}", creds.endpoint);
    assert!(!creds.certificate_authority_pem.is_empty());
    assert_eq!(creds.expires_at - now, chrono::TimeDelta::minutes(14));
    let b64 = creds.token.strip_prefix("k8s-aws-v1.").expect("token prefix");
    assert!(!b64.contains('=') && !b64.contains('+') && !b64.contains('/'), "base64url without padding");
    let url =
        String::from_utf8(base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(b64).expect("b64")).expect("utf8");
    for part in [
        "Action=GetCallerIdentity",
        "Version=2011-06-15",
        "X-Amz-Algorithm=AWS4-HMAC-SHA256",
        "X-Amz-Expires=60",
        "X-Amz-SignedHeaders=host%3Bx-k8s-aws-id",
        "X-Amz-Date=20270115T080000Z",
        "%2Fus-east-1%2Fsts%2Faws4_request",
        "X-Amz-Signature=",
    ] {
        assert!(url.contains(part), "{part} missing in {url}");
    }
    // Deterministic for a given time and identity.
    assert_eq!(m.aws.eks_token(SECONDARY, "ml-platform-secondary", now).await?.0, creds.token);
    let debug = format!("{creds:?}");
    assert!(!debug.contains(&creds.token));
    // The presigned URL names the access key id (X-Amz-Credential) by design, never the secret.
    assert!(!url.contains(SECRET));
    assert_no_secret([("credentials debug", debug)]);

    let e = m.aws.eks_credentials(SECONDARY, "no-such-cluster", now).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    Ok(())
}

#[tokio::test]
async fn missing_region_or_credentials_are_clear_errors() {
    let e = AwsBackends::connect(AwsConfig { primary_region: Some(String::new()), ..AwsConfig::default() })
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");

    let env_has = |k: &str| std::env::var(k).is_ok_and(|v| !v.is_empty());
    if !env_has("AWS_REGION") && !env_has("AWS_DEFAULT_REGION") {
        let e = AwsBackends::connect(AwsConfig {
            profile: Some("incident-test-no-such-profile".into()),
            credentials: Some(StaticCredentials {
                access_key_id: KEY_ID.into(),
                secret_access_key: SECRET.into(),
                session_token: None,
            }),
            ..AwsConfig::default()
        })
        .await
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
        assert!(e.to_string().contains("no AWS region"), "{e}");
    }
    if !env_has("AWS_ACCESS_KEY_ID") && !env_has("AWS_PROFILE") {
        let e = tokio::time::timeout(
            std::time::Duration::from_secs(60),
            AwsBackends::connect(AwsConfig {
                primary_region: Some(PRIMARY.into()),
                profile: Some("incident-test-no-such-profile".into()),
                ..AwsConfig::default()
            }),
        )
        .await
        .expect("the credential chain gives up")
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
        assert!(e.to_string().contains("no AWS credentials"), "{e}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engine_retries_a_throttled_health_check_until_it_answers() -> Result<()> {
    use incident_core::engine::{Approval, Check, Executor, Procedure, Step, StepKind, StepStatus};
    use incident_core::sim::{Scenario, SimPlatform, TimeMode};
    use incident_core::store::{MemoryStore, RunStatus, Store};
    use std::sync::Arc;

    // Three throttling answers exhaust the SDK's three attempts; the engine retries the step (its own
    // backoff on the virtual clock) and the fourth answer passes.
    let rule = mock!(aws_sdk_health::Client::describe_events)
        .sequence()
        .error(throttled)
        .times(3)
        .output(|| DescribeEventsOutput::builder().build())
        .build();
    let aws = offline().await.with_health_client(health_client(&[&rule]));
    let p = SimPlatform::from_scenario(&Scenario::builtin("region-failure").expect("scenario")).expect("platform");
    p.set_time_mode(TimeMode::Jump);
    let mut b = p.backends();
    b.cloud = aws.cloud();
    let policy = incident_core::Policy::default();
    let proc = Procedure::new("health", "AWS Health for the secondary region").step(Step::new(
        "health-events",
        "assessment",
        StepKind::check(Check::NoOpenHealthEvents { region: SECONDARY.into(), services: vec!["EC2".into()] }),
    ));
    let approved = proc.plan(&b, &policy).await?.approve(Approval::new("t", b.clock.now())).expect("approve");
    let store = Arc::new(MemoryStore::new());
    let report = Executor::new(b, store as Arc<dyn Store>, policy).run(approved, None).await?;
    assert_eq!(report.status, RunStatus::Succeeded, "{report:#?}");
    let step = report.step("health-events").expect("step");
    assert_eq!(step.status, StepStatus::Succeeded);
    assert_eq!(step.attempts, 2, "one engine retry: {step:?}");
    assert_eq!(rule.num_calls(), 4);
    Ok(())
}
