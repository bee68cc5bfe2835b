//! Replicas of the receiver on one PostgreSQL store (migration 4):
//!
//! * **One open incident per alert group**: `incidents.group_key` (the group of the incident's first
//!   `alerts_received` event, set when that event is appended) and `incidents.open` (the status is not
//!   `resolved`, set by every save) carry the partial unique index `incidents_one_open_per_group`. Two
//!   replicas declaring the same group at once: the second commit fails with `Conflict` and writes
//!   nothing; the receiver re-reads [`Store::open_groups`] and appends to the winner.
//! * **The drivers' lease**: a row per lease (`holder`, `until` on the caller's clock, `token`), taken
//!   by one `INSERT ... ON CONFLICT DO UPDATE ... WHERE holder = me OR until <= now` statement; the
//!   fencing token grows by one at every change of holder.
//! * **Notification keys**: a primary key; recorded with a fence, the lease row is read `FOR SHARE` in
//!   the same transaction, so a key is recorded before a takeover commits or not at all.

use chrono::{DateTime, Utc};
use incident_core::store::{LeaseFence, canonical_timestamp};
use incident_core::timeline::{Event, EventKind};
use incident_core::{Error, ErrorKind, Result};

use super::{Ctx, PgStore, col};

pub(super) const MIGRATION_4: &str = r#"
ALTER TABLE incidents ADD COLUMN group_key TEXT COLLATE "C";
ALTER TABLE incidents ADD COLUMN open BOOLEAN NOT NULL DEFAULT TRUE;
UPDATE incidents SET open = (json->>'status') IS DISTINCT FROM 'resolved';
UPDATE incidents i SET group_key = f.group_key FROM (
    SELECT DISTINCT ON (incident_id) incident_id, json->'kind'->>'group_key' AS group_key
    FROM events WHERE json->'kind'->>'type' = 'alerts_received' ORDER BY incident_id, seq
) f WHERE f.incident_id = i.id;
-- Older open duplicates of a group (written before the constraint) keep no key: the newest owns it.
UPDATE incidents i SET group_key = NULL WHERE i.open AND i.group_key IS NOT NULL AND EXISTS (
    SELECT 1 FROM incidents n WHERE n.open AND n.group_key = i.group_key AND (n.declared_at, n.id) > (i.declared_at, i.id)
);
CREATE UNIQUE INDEX incidents_one_open_per_group ON incidents (group_key) WHERE open AND group_key IS NOT NULL;

CREATE TABLE leases (
    name   TEXT COLLATE "C" PRIMARY KEY,
    holder TEXT NOT NULL,
    until  TEXT COLLATE "C" NOT NULL,
    token  BIGINT NOT NULL
);

CREATE TABLE notification_keys (
    key         TEXT COLLATE "C" PRIMARY KEY,
    holder      TEXT,
    token       BIGINT,
    recorded_at TEXT COLLATE "C" NOT NULL
);
"#;

/// After appending `events` to `incident_id` (in the caller's transaction): give the incident the
/// group of its first `alerts_received` event, unless it has one. `Conflict` when another open incident
/// owns that group.
pub(super) async fn claim_group(
    tx: &deadpool_postgres::Transaction<'_>,
    ctx: &Ctx<'_>,
    incident_id: &str,
    events: &[Event],
) -> Result<()> {
    let Some(key) = events.iter().find_map(|e| match &e.kind {
        EventKind::AlertsReceived { group_key, .. } => Some(group_key.as_str()),
        _ => None,
    }) else {
        return Ok(());
    };
    match tx
        .execute("UPDATE incidents SET group_key = $2 WHERE id = $1 AND group_key IS NULL", &[&incident_id, &key])
        .await
    {
        Ok(_) => Ok(()),
        Err(e) => {
            let err = ctx.db(e);
            if err.kind() == ErrorKind::Conflict {
                Err(Error::conflict(format!(
                    "alert group {key} already has an open incident (another writer declared it first); {incident_id} \
                     was not written"
                ))
                .with_source(err))
            } else {
                Err(err)
            }
        }
    }
}

impl PgStore {
    pub(super) async fn ha_open_groups(&self) -> Result<Vec<(String, String)>> {
        let ctx = self.ctx("open_groups");
        let client = self.client(&ctx).await?;
        let rows = client
            .query(
                "SELECT group_key, id FROM incidents WHERE open AND group_key IS NOT NULL ORDER BY declared_at DESC, id",
                &[],
            )
            .await
            .map_err(|e| ctx.db(e))?;
        rows.iter().map(|r| Ok((col(&ctx, r, 0)?, col(&ctx, r, 1)?))).collect()
    }

    pub(super) async fn ha_acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Option<u64>> {
        if name.trim().is_empty() || holder.trim().is_empty() || until <= now {
            return Err(Error::invalid_input(format!(
                "lease {name:?} for {holder:?}: name and holder must not be blank and the lease must end after now"
            )));
        }
        let ctx = self.ctx("acquire_lease");
        let client = self.client(&ctx).await?;
        let row = client
            .query_opt(
                "INSERT INTO leases (name, holder, until, token) VALUES ($1, $2, $4, 1) \
                 ON CONFLICT (name) DO UPDATE SET \
                   token = CASE WHEN leases.holder = excluded.holder THEN leases.token ELSE leases.token + 1 END, \
                   holder = excluded.holder, until = excluded.until \
                 WHERE leases.holder = excluded.holder OR leases.until <= $3 \
                 RETURNING token",
                &[&name, &holder, &canonical_timestamp(now), &canonical_timestamp(until)],
            )
            .await
            .map_err(|e| ctx.db(e))?;
        row.map(|r| {
            let token: i64 = col(&ctx, &r, 0)?;
            u64::try_from(token).map_err(|_| Error::internal(format!("lease {name}: negative token {token}")))
        })
        .transpose()
    }

    pub(super) async fn ha_release_lease(&self, name: &str, holder: &str) -> Result<()> {
        let ctx = self.ctx("release_lease");
        let client = self.client(&ctx).await?;
        // An empty `until` sorts before every timestamp: expired.
        client
            .execute("UPDATE leases SET until = '' WHERE name = $1 AND holder = $2", &[&name, &holder])
            .await
            .map_err(|e| ctx.db(e))?;
        Ok(())
    }

    pub(super) async fn ha_record_notification_key(
        &self,
        key: &str,
        at: DateTime<Utc>,
        fence: Option<&LeaseFence>,
    ) -> Result<bool> {
        let ctx = self.ctx("record_notification_key");
        let mut client = self.client(&ctx).await?;
        let tx = client.transaction().await.map_err(|e| ctx.db(e))?;
        let (holder, token) = match fence {
            Some(f) => {
                let token = i64::try_from(f.token).map_err(|_| Error::invalid_input("fencing token out of range"))?;
                let held = tx
                    .query_opt(
                        "SELECT 1 FROM leases WHERE name = $1 AND holder = $2 AND token = $3 FOR SHARE",
                        &[&f.name, &f.holder, &token],
                    )
                    .await
                    .map_err(|e| ctx.db(e))?;
                if held.is_none() {
                    return Err(Error::precondition(format!(
                        "notification {key}: {} no longer holds lease {} with token {} (taken over): not sent",
                        f.holder, f.name, f.token
                    )));
                }
                (Some(f.holder.as_str()), Some(token))
            }
            None => (None, None),
        };
        let n = tx
            .execute(
                "INSERT INTO notification_keys (key, holder, token, recorded_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (key) DO NOTHING",
                &[&key, &holder, &token, &canonical_timestamp(at)],
            )
            .await
            .map_err(|e| ctx.db(e))?;
        tx.commit().await.map_err(|e| ctx.db(e))?;
        Ok(n == 1)
    }
}
