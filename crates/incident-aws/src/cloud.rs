//! STS caller identity and AWS Health events through the core's [`Cloud`] port.

use aws_sdk_health::types::{EventFilter, EventStatusCode};
use incident_core::backend::{Cloud, HealthEvent};
use incident_core::{Error, Result};

use crate::error::{Call, map_sdk};
use crate::{AwsBackends, to_chrono};

#[async_trait::async_trait]
impl Cloud for AwsBackends {
    async fn caller_identity(&self, region: &str) -> Result<String> {
        let sts = self.sts_client(region)?;
        let out = sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| map_sdk(self.redactor(), "sts:GetCallerIdentity", Call::Read, e))?;
        out.account().map(ToOwned::to_owned).ok_or_else(|| Error::internal("GetCallerIdentity returned no account"))
    }

    /// Open and upcoming events of `services` (all when empty) in `region`, from the global Health
    /// endpoint, all pages.
    async fn health_events(&self, region: &str, services: &[String]) -> Result<Vec<HealthEvent>> {
        if region.is_empty() {
            return Err(Error::invalid_input("AWS region is empty"));
        }
        let filter = EventFilter::builder()
            .regions(region)
            .set_services((!services.is_empty()).then(|| services.iter().map(|s| s.to_ascii_uppercase()).collect()))
            .event_status_codes(EventStatusCode::Open)
            .event_status_codes(EventStatusCode::Upcoming)
            .build();
        let health = self.health_client();
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = health
                .describe_events()
                .filter(filter.clone())
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| map_sdk(self.redactor(), "health:DescribeEvents", Call::Read, e))?;
            out.extend(page.events().iter().map(|e| HealthEvent {
                service: e.service().unwrap_or_default().to_owned(),
                region: e.region().unwrap_or(region).to_owned(),
                code: e.event_type_code().unwrap_or_default().to_owned(),
                status: e.status_code().map(|s| s.as_str().to_ascii_lowercase()).unwrap_or_default(),
                start_time: e.start_time().and_then(to_chrono),
            }));
            match page.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_owned()),
                _ => break,
            }
        }
        Ok(out)
    }
}
