//! The alert receiver on a hostile network (the `[receiver]` section of a policy file): connection
//! timeouts, the connection cap and the SNS trust rules. `incident serve` flags override each value.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::HumanDuration;

/// Limits `incident serve` puts on every connection, and the SNS trust rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ReceiverPolicy {
    /// A request's headers must arrive within this, from its first byte (else the connection is
    /// closed; slowloris).
    pub header_timeout: HumanDuration,
    /// A request's body must arrive within this (else `408` and the connection is closed).
    pub body_timeout: HumanDuration,
    /// A keep-alive connection idle between requests longer than this is closed.
    pub idle_timeout: HumanDuration,
    /// Most connections open at once; at the cap the longest-idle connection is shed to let a new one
    /// in (also kept below the process's file-descriptor limit).
    pub max_connections: u32,
    /// Amazon SNS deliveries (`POST /webhook/cloudwatch`).
    pub sns: ReceiverSnsPolicy,
}

impl Default for ReceiverPolicy {
    fn default() -> Self {
        Self {
            header_timeout: HumanDuration::from_secs(10),
            body_timeout: HumanDuration::from_secs(30),
            idle_timeout: HumanDuration::from_secs(60),
            max_connections: 512,
            sns: ReceiverSnsPolicy::default(),
        }
    }
}

/// SNS trust rules: closed by default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ReceiverSnsPolicy {
    /// Topic ARNs whose subscriptions are confirmed and whose messages are accepted. Empty (the
    /// default): no topic is, every SNS delivery is refused with `403`.
    pub topics: Vec<String>,
    /// A message whose `Timestamp` is older than this is refused as a replay.
    pub max_age: HumanDuration,
    /// A message whose `Timestamp` is further than this in the future is refused.
    pub max_future_skew: HumanDuration,
}

impl Default for ReceiverSnsPolicy {
    fn default() -> Self {
        Self { topics: Vec::new(), max_age: HumanDuration::from_hours(1), max_future_skew: HumanDuration::from_mins(5) }
    }
}

#[cfg(test)]
mod tests {
    use crate::{HumanDuration, Policy};

    #[test]
    fn defaults_are_safe_and_bad_values_name_their_path() {
        let p = Policy::default();
        assert!(p.receiver.sns.topics.is_empty(), "SNS is closed by default");
        assert_eq!(p.receiver.sns.max_age, HumanDuration::from_hours(1));
        assert_eq!(p.receiver.header_timeout, HumanDuration::from_secs(10));
        let mut bad = p.clone();
        bad.receiver.idle_timeout = HumanDuration::ZERO;
        assert!(bad.validate().expect_err("zero").to_string().contains("receiver.idle_timeout"));
        let mut bad = p.clone();
        bad.receiver.max_connections = 1;
        assert!(bad.validate().expect_err("cap").to_string().contains("receiver.max_connections"));
        let mut bad = p;
        bad.receiver.sns.topics = vec!["my-topic".into()];
        assert!(bad.validate().expect_err("arn").to_string().contains("receiver.sns.topics[0]"));
    }
}
