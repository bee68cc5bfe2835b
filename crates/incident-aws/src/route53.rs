//! Route53 through the core's [`Dns`] port: record sets (paginated), atomic change batches for simple,
//! weighted and failover records, change status.
//!
//! Names are normalised to lower case with a trailing dot, as Route53 returns them. Alias records are read
//! (their target as the single value, no TTL) but not written: [`RecordSet`] cannot carry an alias target's
//! hosted zone, so a change to one is refused as `InvalidInput` instead of turning it into a plain record.

use aws_sdk_route53::types::{
    Change, ChangeBatch, ResourceRecord, ResourceRecordSet, ResourceRecordSetFailover, RrType,
};
use incident_core::backend::{ChangeAction, ChangeInfo, ChangeStatus, Dns, FailoverRole, RecordChange, RecordSet};
use incident_core::{Error, Result};

use crate::error::{Call, build_error, map_sdk};
use crate::{AwsBackends, to_chrono};

/// `name` in Route53's form: lower case, trailing dot.
pub(crate) fn fqdn(name: &str) -> String {
    let n = name.trim().to_ascii_lowercase();
    if n.ends_with('.') { n } else { format!("{n}.") }
}

/// Route53 escapes `*` as `\052` in names it returns.
fn unescape(name: &str) -> String {
    name.replace("\\052", "*")
}

fn record_from(r: &ResourceRecordSet) -> RecordSet {
    let (ttl, values) = match r.alias_target() {
        Some(a) => (None, vec![a.dns_name().to_owned()]),
        None => (
            r.ttl().and_then(|t| u32::try_from(t).ok()),
            r.resource_records().iter().map(|v| v.value().to_owned()).collect(),
        ),
    };
    RecordSet {
        name: fqdn(&unescape(r.name())),
        rtype: r.r#type().as_str().to_owned(),
        ttl,
        values,
        set_identifier: r.set_identifier().map(ToOwned::to_owned),
        weight: r.weight().and_then(|w| u32::try_from(w).ok()),
        failover: r.failover().and_then(|f| match f {
            ResourceRecordSetFailover::Primary => Some(FailoverRole::Primary),
            ResourceRecordSetFailover::Secondary => Some(FailoverRole::Secondary),
            _ => None,
        }),
        health_check_id: r.health_check_id().map(ToOwned::to_owned),
    }
}

fn record_to(r: &RecordSet) -> Result<ResourceRecordSet> {
    let Some(ttl) = r.ttl else {
        return Err(Error::invalid_input(format!(
            "{} {}: alias records (no TTL) cannot be changed through this adapter",
            r.name, r.rtype
        )));
    };
    if r.values.is_empty() {
        return Err(Error::invalid_input(format!("{} {}: a record set needs at least one value", r.name, r.rtype)));
    }
    if (r.weight.is_some() || r.failover.is_some()) && r.set_identifier.is_none() {
        return Err(Error::invalid_input(format!(
            "{} {}: weighted and failover records need a set identifier",
            r.name, r.rtype
        )));
    }
    let mut b = ResourceRecordSet::builder()
        .name(fqdn(&r.name))
        .r#type(RrType::from(r.rtype.to_ascii_uppercase().as_str()))
        .ttl(i64::from(ttl))
        .set_set_identifier(r.set_identifier.clone())
        .set_weight(r.weight.map(i64::from))
        .set_health_check_id(r.health_check_id.clone());
    if let Some(f) = r.failover {
        b = b.failover(match f {
            FailoverRole::Primary => ResourceRecordSetFailover::Primary,
            FailoverRole::Secondary => ResourceRecordSetFailover::Secondary,
        });
    }
    for v in &r.values {
        b = b.resource_records(
            ResourceRecord::builder().value(v).build().map_err(|e| build_error("resource record", e))?,
        );
    }
    b.build().map_err(|e| build_error("resource record set", e))
}

fn change_info(c: &aws_sdk_route53::types::ChangeInfo) -> Result<ChangeInfo> {
    let status = match c.status() {
        aws_sdk_route53::types::ChangeStatus::Insync => ChangeStatus::Insync,
        _ => ChangeStatus::Pending,
    };
    let submitted_at =
        to_chrono(c.submitted_at()).ok_or_else(|| Error::internal("Route53 returned an out-of-range SubmittedAt"))?;
    Ok(ChangeInfo { id: c.id().to_owned(), status, submitted_at })
}

fn zone(zone_id: &str) -> Result<&str> {
    let z = zone_id.trim_start_matches("/hostedzone/");
    if z.is_empty() || !z.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(Error::invalid_input(format!("{zone_id:?} is not a hosted zone id")));
    }
    Ok(z)
}

#[async_trait::async_trait]
impl Dns for AwsBackends {
    async fn record_sets<'a>(&self, zone_id: &str, name: Option<&'a str>) -> Result<Vec<RecordSet>> {
        let zone = zone(zone_id)?;
        let want = name.map(fqdn);
        let route53 = self.route53_client();
        let mut out = Vec::new();
        // With a name, start the listing there (Route53 sorts by name) and stop at the first other name.
        let mut next: (Option<String>, Option<RrType>, Option<String>) = (want.clone(), None, None);
        let mut last_token = None;
        'pages: loop {
            let page = route53
                .list_resource_record_sets()
                .hosted_zone_id(zone)
                .set_start_record_name(next.0.take())
                .set_start_record_type(next.1.take())
                .set_start_record_identifier(next.2.take())
                .send()
                .await
                .map_err(|e| map_sdk(self.redactor(), "route53:ListResourceRecordSets", Call::Read, e))?;
            for r in page.resource_record_sets() {
                let rec = record_from(r);
                // A server that ignores StartRecordIdentifier repeats records across pages: keep one.
                if out.iter().any(|o: &RecordSet| {
                    (&o.name, &o.rtype, &o.set_identifier) == (&rec.name, &rec.rtype, &rec.set_identifier)
                }) {
                    continue;
                }
                match &want {
                    Some(w) if &rec.name == w => out.push(rec),
                    Some(_) if !out.is_empty() => break 'pages,
                    Some(_) => {}
                    None => out.push(rec),
                }
            }
            if !page.is_truncated() {
                break;
            }
            let token = (
                page.next_record_name().map(ToOwned::to_owned),
                page.next_record_type().cloned(),
                page.next_record_identifier().map(ToOwned::to_owned),
            );
            if token.0.is_none() || Some(&token) == last_token.as_ref() {
                break;
            }
            last_token = Some(token.clone());
            next = token;
        }
        Ok(out)
    }

    async fn change(&self, zone_id: &str, changes: &[RecordChange], comment: &str) -> Result<ChangeInfo> {
        let zone = zone(zone_id)?;
        if changes.is_empty() {
            return Err(Error::invalid_input("the change batch is empty"));
        }
        let mut batch = ChangeBatch::builder();
        if !comment.is_empty() {
            batch = batch.comment(comment);
        }
        for c in changes {
            let action = match c.action {
                ChangeAction::Upsert => aws_sdk_route53::types::ChangeAction::Upsert,
                ChangeAction::Delete => aws_sdk_route53::types::ChangeAction::Delete,
                ChangeAction::Create => aws_sdk_route53::types::ChangeAction::Create,
            };
            let change = Change::builder()
                .action(action)
                .resource_record_set(record_to(&c.record)?)
                .build()
                .map_err(|e| build_error("change", e))?;
            batch = batch.changes(change);
        }
        let batch = batch.build().map_err(|e| build_error("change batch", e))?;
        let route53 = self.route53_client();
        let out = route53
            .change_resource_record_sets()
            .hosted_zone_id(zone)
            .change_batch(batch)
            .send()
            .await
            .map_err(|e| map_sdk(self.redactor(), "route53:ChangeResourceRecordSets", Call::Mutation, e))?;
        change_info(
            out.change_info().ok_or_else(|| Error::internal("ChangeResourceRecordSets returned no ChangeInfo"))?,
        )
    }

    async fn change_status(&self, change_id: &str) -> Result<ChangeInfo> {
        let id = change_id.trim_start_matches("/change/");
        if id.is_empty() {
            return Err(Error::invalid_input("change id is empty"));
        }
        let route53 = self.route53_client();
        let out = route53
            .get_change()
            .id(id)
            .send()
            .await
            .map_err(|e| map_sdk(self.redactor(), "route53:GetChange", Call::Read, e))?;
        change_info(out.change_info().ok_or_else(|| Error::internal("GetChange returned no ChangeInfo"))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec() -> RecordSet {
        RecordSet {
            name: "API.example.com".into(),
            rtype: "cname".into(),
            ttl: Some(60),
            values: vec!["a.example.net".into()],
            set_identifier: Some("primary".into()),
            weight: None,
            failover: Some(FailoverRole::Primary),
            health_check_id: None,
        }
    }

    #[test]
    fn records_round_trip_through_the_sdk_type() {
        let r = rec();
        let back = record_from(&record_to(&r).unwrap());
        assert_eq!(back.name, "api.example.com.");
        assert_eq!(back.rtype, "CNAME");
        assert_eq!((back.ttl, back.values.clone(), back.failover), (r.ttl, r.values.clone(), r.failover));
    }

    #[test]
    fn refuses_alias_empty_and_unidentified_records() {
        let mut r = rec();
        r.ttl = None;
        assert!(record_to(&r).is_err());
        let mut r = rec();
        r.values.clear();
        assert!(record_to(&r).is_err());
        let mut r = rec();
        r.set_identifier = None;
        assert!(record_to(&r).is_err());
        assert!(zone("/hostedzone/Z123").is_ok() && zone("").is_err() && zone("Z/../x").is_err());
    }
}
