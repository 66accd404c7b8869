//! A KCL-like lease table in DynamoDB: one item per shard with its owner, a
//! lease counter the owner bumps to show it is alive, the checkpoint, and the
//! parent shards. Every change is a conditional write on the counter (or the
//! owner), so two replicas never both believe they hold a shard. A lease whose
//! counter has not moved for `lease_duration`, as this replica observed it, is
//! expired and may be taken; replicas even out the count of leases they hold.

use super::shards::ShardInfo;
use crate::aws::{describe, AwsSettings};
use crate::duration::Span;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

/// Checkpoint of a shard nobody has read yet, and of one read to its end.
pub const TRIM_HORIZON: &str = "TRIM_HORIZON";
pub const SHARD_END: &str = "SHARD_END";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeaseConfig {
    /// The DynamoDB table (created, on demand billing, if missing).
    pub table: String,
    /// Region and endpoint for DynamoDB (default: the standard AWS chain).
    #[serde(default)]
    pub aws: AwsSettings,
    /// This replica's name in the table (default, or empty: host name and process id).
    #[serde(default)]
    pub worker_id: Option<String>,
    /// A lease not renewed for this long may be taken by another replica.
    #[serde(default = "default_lease_duration")]
    pub lease_duration: Span,
}

fn default_lease_duration() -> Span {
    Span::secs(10)
}

impl LeaseConfig {
    pub fn problems(&self) -> Vec<String> {
        let mut problems = self.aws.problems();
        if self.table.trim().is_empty() {
            problems.push("table: must not be empty".into());
        }
        if self.lease_duration.as_millis() < 1_000 {
            problems.push("lease_duration: must be at least 1s".into());
        }
        problems
    }

    pub fn worker_id(&self) -> String {
        let given = self.worker_id.clone().filter(|id| !id.trim().is_empty());
        given.unwrap_or_else(|| {
            let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "replica".into());
            format!("{host}-{}", std::process::id())
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub shard_id: String,
    /// Empty when nobody holds it.
    pub owner: String,
    pub counter: u64,
    pub checkpoint: String,
    pub parents: Vec<String>,
    /// The S3 key of the shard's state snapshot taken at `checkpoint`.
    pub snapshot: Option<String>,
    /// When `checkpoint` was written (epoch ms): outputs written after it
    /// may belong to records after it.
    pub checkpointed_at: Option<i64>,
    /// A replica that asked for this lease: the owner hands it over at its
    /// next checkpoint, so that no record is read by both.
    pub handoff_to: Option<String>,
}

/// How a replica gets a lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// Free or expired: taken at once, from its checkpoint.
    Take(String),
    /// Held by a live replica with more than its share: asked for, and
    /// handed over by that replica once it has checkpointed.
    AskHandoff(String),
}

impl Claim {
    pub fn shard(&self) -> &str {
        match self {
            Claim::Take(shard) | Claim::AskHandoff(shard) => shard,
        }
    }
}

impl Lease {
    pub fn finished(&self) -> bool {
        self.checkpoint == SHARD_END
    }
}

/// When this replica last saw each lease's counter move.
#[derive(Debug, Default)]
pub struct Observations {
    seen: HashMap<String, (u64, Instant)>,
}

impl Observations {
    /// Records what a scan returned; returns the shard ids of expired leases.
    pub fn observe(&mut self, leases: &[Lease], now: Instant, duration: Duration) -> Vec<String> {
        let mut expired = Vec::new();
        for lease in leases {
            let entry = self
                .seen
                .entry(lease.shard_id.clone())
                .or_insert((lease.counter, now));
            if entry.0 != lease.counter {
                *entry = (lease.counter, now);
            }
            if lease.owner.is_empty() || now.duration_since(entry.1) >= duration {
                expired.push(lease.shard_id.clone());
            }
        }
        expired
    }
}

/// Which leases `me` should claim now: free or expired ones up to its fair
/// share, else one asked of the busiest replica if that one holds more (and
/// no request of `me` is still waiting).
pub fn plan_claims(leases: &[Lease], expired: &[String], me: &str) -> Vec<Claim> {
    let open: Vec<&Lease> = leases.iter().filter(|lease| !lease.finished()).collect();
    let is_expired = |lease: &Lease| expired.contains(&lease.shard_id);
    let mut held: BTreeMap<&str, Vec<&Lease>> = BTreeMap::new();
    held.entry(me).or_default();
    for lease in &open {
        if !is_expired(lease) || lease.owner == me {
            held.entry(lease.owner.as_str()).or_default().push(lease);
        }
    }
    held.remove("");
    let target = open.len().div_ceil(held.len().max(1));
    let mine = held.get(me).map_or(0, Vec::len);
    if mine >= target {
        return Vec::new();
    }
    let free: Vec<Claim> = open
        .iter()
        .filter(|lease| lease.owner != me && is_expired(lease))
        .map(|lease| Claim::Take(lease.shard_id.clone()))
        .take(target - mine)
        .collect();
    if !free.is_empty() {
        return free;
    }
    if open
        .iter()
        .any(|lease| lease.handoff_to.as_deref() == Some(me))
    {
        return Vec::new();
    }
    let busiest = held
        .iter()
        .filter(|(owner, _)| **owner != me)
        .max_by_key(|(_, leases)| leases.len());
    match busiest {
        Some((_, leases)) if leases.len() > target => leases
            .last()
            .map(|lease| vec![Claim::AskHandoff(lease.shard_id.clone())])
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

pub struct LeaseTable {
    client: aws_sdk_dynamodb::Client,
    table: String,
    pub worker_id: String,
}

type DynamoResult<T> = Result<T, String>;

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

fn n(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

impl LeaseTable {
    /// The table, created if no replica has yet.
    pub async fn connect(config: &LeaseConfig) -> DynamoResult<LeaseTable> {
        let table = LeaseTable::open(config).await;
        table.ensure_table().await?;
        Ok(table)
    }

    /// A client of the table (which must exist), on the calling runtime:
    /// an SDK client's pooled connections are driven by the runtime that
    /// opened them, so each thread with a runtime of its own opens its own.
    pub async fn open(config: &LeaseConfig) -> LeaseTable {
        LeaseTable {
            client: config.aws.dynamodb().await,
            table: config.table.clone(),
            worker_id: config.worker_id(),
        }
    }

    async fn ensure_table(&self) -> DynamoResult<()> {
        if self
            .client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
            .is_ok()
        {
            return Ok(());
        }
        let attribute = AttributeDefinition::builder()
            .attribute_name("shard_id")
            .attribute_type(ScalarAttributeType::S)
            .build()
            .map_err(|error| error.to_string())?;
        let key = KeySchemaElement::builder()
            .attribute_name("shard_id")
            .key_type(KeyType::Hash)
            .build()
            .map_err(|error| error.to_string())?;
        let created = self
            .client
            .create_table()
            .table_name(&self.table)
            .attribute_definitions(attribute)
            .key_schema(key)
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await;
        match created {
            Ok(_) => Ok(()),
            // Another replica created it first.
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_in_use_exception()) =>
            {
                Ok(())
            }
            Err(error) => Err(describe(error)),
        }
    }

    /// Adds a free lease for every listed shard that has none; true if it tried any.
    pub async fn create_missing(
        &self,
        shards: &[ShardInfo],
        known: &[Lease],
    ) -> DynamoResult<bool> {
        let mut tried = false;
        for shard in shards {
            if known.iter().any(|lease| lease.shard_id == shard.shard_id) {
                continue;
            }
            tried = true;
            let put = self
                .client
                .put_item()
                .table_name(&self.table)
                .item("shard_id", s(&shard.shard_id))
                .item("lease_owner", s(""))
                .item("lease_counter", n(0))
                .item("checkpoint", s(TRIM_HORIZON))
                .item("parents", s(&shard.parents.join(",")))
                .condition_expression("attribute_not_exists(shard_id)")
                .send()
                .await;
            if let Err(error) = put {
                if !error
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception())
                {
                    return Err(describe(error));
                }
            }
        }
        Ok(tried)
    }

    pub async fn scan(&self) -> DynamoResult<Vec<Lease>> {
        let mut leases = Vec::new();
        let mut start = None;
        loop {
            let output = self
                .client
                .scan()
                .table_name(&self.table)
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(describe)?;
            leases.extend(output.items().iter().filter_map(parse_lease));
            match output.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => return Ok(leases),
            }
        }
    }

    /// Takes `lease` if its counter is still what we saw; true if we got it.
    pub async fn take(&self, lease: &Lease) -> DynamoResult<bool> {
        self.conditional(
            &lease.shard_id,
            "SET lease_owner = :me, lease_counter = :next REMOVE handoff_to",
            "lease_counter = :seen",
            &[
                (":me", s(&self.worker_id)),
                (":next", n(lease.counter + 1)),
                (":seen", n(lease.counter)),
            ],
        )
        .await
    }

    /// Asks `lease`'s owner to hand it over; false if another replica
    /// asked first or the owner changed.
    pub async fn ask_handoff(&self, lease: &Lease) -> DynamoResult<bool> {
        self.conditional(
            &lease.shard_id,
            "SET handoff_to = :me",
            "lease_owner = :owner AND attribute_not_exists(handoff_to)",
            &[(":me", s(&self.worker_id)), (":owner", s(&lease.owner))],
        )
        .await
    }

    /// Gives a lease we hold, checkpointed, to the replica that asked for it.
    pub async fn hand_off(&self, shard_id: &str, to: &str) -> DynamoResult<bool> {
        self.conditional(
            shard_id,
            "SET lease_owner = :to, lease_counter = lease_counter + :one REMOVE handoff_to",
            "lease_owner = :me AND handoff_to = :to",
            &[(":me", s(&self.worker_id)), (":to", s(to)), (":one", n(1))],
        )
        .await
    }

    /// Bumps the counter of a lease we hold; false if it was taken from us.
    pub async fn renew(&self, shard_id: &str, counter: u64) -> DynamoResult<bool> {
        self.conditional(
            shard_id,
            "SET lease_counter = :next",
            "lease_owner = :me AND lease_counter = :seen",
            &[
                (":me", s(&self.worker_id)),
                (":next", n(counter + 1)),
                (":seen", n(counter)),
            ],
        )
        .await
    }

    /// Records how far the shard's records are decided and written.
    /// Records progress, and the snapshot taken there, if any.
    pub async fn checkpoint(
        &self,
        shard_id: &str,
        checkpoint: &str,
        snapshot: Option<&str>,
    ) -> DynamoResult<bool> {
        let now = AttributeValue::N(crate::domain::now_millis().to_string());
        let mut values = vec![
            (":me", s(&self.worker_id)),
            (":checkpoint", s(checkpoint)),
            (":at", now),
        ];
        let update = match snapshot {
            Some(key) => {
                values.push((":snapshot", s(key)));
                "SET checkpoint = :checkpoint, checkpointed_at = :at, state_snapshot = :snapshot"
            }
            None => "SET checkpoint = :checkpoint, checkpointed_at = :at",
        };
        self.conditional(shard_id, update, "lease_owner = :me", &values)
            .await
    }

    /// Lets a lease go at shutdown so another replica need not wait for it to expire.
    pub async fn release(&self, shard_id: &str) -> DynamoResult<bool> {
        self.conditional(
            shard_id,
            "SET lease_owner = :nobody REMOVE handoff_to",
            "lease_owner = :me",
            &[(":me", s(&self.worker_id)), (":nobody", s(""))],
        )
        .await
    }

    async fn conditional(
        &self,
        shard_id: &str,
        update: &str,
        condition: &str,
        values: &[(&str, AttributeValue)],
    ) -> DynamoResult<bool> {
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("shard_id", s(shard_id))
            .update_expression(update)
            .condition_expression(condition);
        for (name, value) in values {
            request = request.expression_attribute_values(*name, value.clone());
        }
        match request.send().await {
            Ok(_) => Ok(true),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(error) => Err(describe(error)),
        }
    }
}

fn parse_lease(item: &HashMap<String, AttributeValue>) -> Option<Lease> {
    let text = |key: &str| item.get(key).and_then(|value| value.as_s().ok()).cloned();
    let parents = text("parents").unwrap_or_default();
    Some(Lease {
        shard_id: text("shard_id")?,
        owner: text("lease_owner").unwrap_or_default(),
        counter: item.get("lease_counter")?.as_n().ok()?.parse().ok()?,
        checkpoint: text("checkpoint").unwrap_or_else(|| TRIM_HORIZON.into()),
        snapshot: text("state_snapshot"),
        handoff_to: text("handoff_to"),
        checkpointed_at: item
            .get("checkpointed_at")
            .and_then(|value| value.as_n().ok()?.parse().ok()),
        parents: parents
            .split(',')
            .filter(|parent| !parent.is_empty())
            .map(str::to_owned)
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease(shard: &str, owner: &str) -> Lease {
        Lease {
            shard_id: shard.into(),
            owner: owner.into(),
            counter: 1,
            checkpoint: TRIM_HORIZON.into(),
            parents: Vec::new(),
            snapshot: None,
            checkpointed_at: None,
            handoff_to: None,
        }
    }

    fn takes(shards: &[&str]) -> Vec<Claim> {
        shards
            .iter()
            .map(|shard| Claim::Take(shard.to_string()))
            .collect()
    }

    #[test]
    fn a_lone_replica_takes_every_free_lease() {
        let leases: Vec<Lease> = (0..4).map(|i| lease(&format!("s{i}"), "")).collect();
        let expired: Vec<String> = leases.iter().map(|l| l.shard_id.clone()).collect();
        assert_eq!(
            plan_claims(&leases, &expired, "a"),
            takes(&["s0", "s1", "s2", "s3"])
        );
    }

    #[test]
    fn a_joining_replica_asks_for_one_lease_at_a_time_up_to_its_share() {
        let mut leases: Vec<Lease> = (0..4).map(|i| lease(&format!("s{i}"), "a")).collect();
        assert_eq!(
            plan_claims(&leases, &[], "b"),
            [Claim::AskHandoff("s3".into())]
        );
        leases[3].handoff_to = Some("b".into());
        assert!(
            plan_claims(&leases, &[], "b").is_empty(),
            "one request at a time"
        );
        leases[3].handoff_to = None;
        leases[3].owner = "b".into();
        assert_eq!(
            plan_claims(&leases, &[], "b"),
            [Claim::AskHandoff("s2".into())]
        );
        leases[2].owner = "b".into();
        assert!(plan_claims(&leases, &[], "b").is_empty());
        assert!(plan_claims(&leases, &[], "a").is_empty());
    }

    #[test]
    fn expired_leases_of_a_dead_replica_are_taken_and_finished_ones_ignored() {
        let mut leases: Vec<Lease> = (0..4).map(|i| lease(&format!("s{i}"), "a")).collect();
        leases[2].owner = "dead".into();
        leases[3].owner = "dead".into();
        leases.push(Lease {
            checkpoint: SHARD_END.into(),
            ..lease("old", "")
        });
        let expired = vec!["s2".to_owned(), "s3".to_owned()];
        assert_eq!(plan_claims(&leases, &expired, "a"), takes(&["s2", "s3"]));
    }

    #[test]
    fn a_lease_expires_when_its_counter_stops_moving() {
        let mut seen = Observations::default();
        let start = Instant::now();
        let second = Duration::from_secs(1);
        let mut leases = vec![lease("s0", "a")];
        assert!(seen.observe(&leases, start, second).is_empty());
        leases[0].counter = 2;
        assert!(seen.observe(&leases, start + second, second).is_empty());
        assert_eq!(seen.observe(&leases, start + 2 * second, second), ["s0"]);
    }
}
