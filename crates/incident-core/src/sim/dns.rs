//! Simulated Route53 ([`Dns`]).

use std::sync::Arc;

use super::platform::{Inner, Scope};
use super::state::{ChangeState, apply_changes, delta, fqdn, safe_hash};
use crate::backend::{ChangeAction, ChangeInfo, ChangeStatus, Dns, RecordChange, RecordSet};
use crate::{Error, Result};

/// Route53 of the simulated world.
pub(crate) struct SimDns {
    pub(crate) inner: Arc<Inner>,
}

#[async_trait::async_trait]
impl Dns for SimDns {
    async fn record_sets<'a>(&self, zone_id: &str, name: Option<&'a str>) -> Result<Vec<RecordSet>> {
        self.inner
            .read(Scope::Global("route53"), "ListResourceRecordSets", |w| {
                let records = w.zone_records(zone_id, false)?;
                let want = name.map(fqdn);
                Ok(records.into_iter().filter(|r| want.as_ref().is_none_or(|n| &r.name == n)).collect())
            })
            .await
    }

    async fn change(&self, zone_id: &str, changes: &[RecordChange], comment: &str) -> Result<ChangeInfo> {
        self.inner
            .mutate(Scope::Global("route53"), "ChangeResourceRecordSets", false, |w, scope| {
                if changes.is_empty() {
                    return Err(Error::invalid_input("InvalidChangeBatch: the change batch is empty"));
                }
                let mut records = w.zone_records(zone_id, false)?;
                apply_changes(&mut records, changes)?;
                let zone = w
                    .zones
                    .iter()
                    .find(|z| z.id == zone_id || z.id == zone_id.trim_start_matches("/hostedzone/"))
                    .map(|z| z.id.clone())
                    .unwrap_or_default();
                let n = w.changes.len() + 1;
                let id = format!("/change/C{}", safe_hash(&format!("{zone}/{n}"), 13).to_ascii_uppercase());
                let now = w.now;
                let insync_at = now + delta(w.latency.dns_insync);
                w.changes.push(ChangeState {
                    id: id.clone(),
                    zone_id: zone,
                    submitted_at: now,
                    insync_at,
                    changes: changes.to_vec(),
                    comment: comment.to_string(),
                });
                let summary: Vec<String> = changes
                    .iter()
                    .map(|c| {
                        let r = &c.record;
                        let set = r.set_identifier.as_ref().map(|s| format!("[{s}]")).unwrap_or_default();
                        let action = match c.action {
                            ChangeAction::Upsert => "UPSERT",
                            ChangeAction::Delete => "DELETE",
                            ChangeAction::Create => "CREATE",
                        };
                        format!("{action} {} {}{set} -> {}", fqdn(&r.name), r.rtype, r.values.join(","))
                    })
                    .collect();
                w.log_op(
                    scope,
                    format!("change-resource-record-sets {zone_id}: {}", summary.join("; ")),
                    format!("HostedZone/{zone_id}"),
                    "api",
                );
                Ok(ChangeInfo { id, status: ChangeStatus::Pending, submitted_at: now })
            })
            .await
    }

    async fn change_status(&self, change_id: &str) -> Result<ChangeInfo> {
        self.inner
            .read(Scope::Global("route53"), "GetChange", |w| {
                let bare = change_id.trim_start_matches("/change/");
                let c = w.changes.iter().find(|c| c.id.trim_start_matches("/change/") == bare).ok_or_else(|| {
                    Error::not_found(format!("NoSuchChange: could not find resource with ID: {change_id}"))
                })?;
                let status = if w.now >= c.insync_at { ChangeStatus::Insync } else { ChangeStatus::Pending };
                Ok(ChangeInfo { id: c.id.clone(), status, submitted_at: c.submitted_at })
            })
            .await
    }
}
