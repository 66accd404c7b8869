//! The Kinesis ends of `produce` and `tail`. Endpoints and credentials come
//! from the standard AWS chain (`AWS_ENDPOINT_URL_KINESIS` for a local server).

use fraud_detector::aws::AwsSettings;
use fraud_detector::sinks::kinesis::{Putter, MAX_BATCH_RECORDS};
use fraud_detector::sinks::Record;
use fraud_detector::sources::kinesis::{kpl, shards};
use std::io::Write;
use std::time::{Duration, Instant};

/// Puts `records` on `stream`, partitioned by customer id; `aggregate` > 1
/// packs that many into each Kinesis record, KPL style. Returns records put.
pub fn produce(
    stream: &str,
    records: impl Iterator<Item = anyhow::Result<Vec<u8>>>,
    rate: Option<f64>,
    aggregate: usize,
) -> anyhow::Result<u64> {
    let rt = fraud_detector::aws::source_runtime()?;
    let client = rt.block_on(AwsSettings::default().kinesis());
    let putter = Putter::new(client, stream, 20);
    let started = Instant::now();
    let mut pending = Vec::new();
    let mut written = 0u64;
    let batch_size = MAX_BATCH_RECORDS * aggregate.max(1);
    for record in records {
        let payload = record?;
        pending.push(Record {
            key: customer_of(&payload),
            payload,
        });
        if pending.len() == batch_size {
            written += put(&rt, &putter, std::mem::take(&mut pending), aggregate)?;
            pace(written, rate, started);
        }
    }
    written += put(&rt, &putter, pending, aggregate)?;
    Ok(written)
}

fn put(
    rt: &tokio::runtime::Runtime,
    putter: &Putter,
    records: Vec<Record>,
    aggregate: usize,
) -> anyhow::Result<u64> {
    let count = records.len() as u64;
    let records = if aggregate > 1 {
        records
            .chunks(aggregate)
            .map(|chunk| {
                let parts: Vec<(&str, &[u8])> = chunk
                    .iter()
                    .map(|record| (record.key.as_str(), record.payload.as_slice()))
                    .collect();
                Record {
                    key: chunk[0].key.clone(),
                    payload: kpl::aggregate(&parts),
                }
            })
            .collect()
    } else {
        records
    };
    rt.block_on(putter.put_all(records))?;
    Ok(count)
}

fn customer_of(payload: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(payload)
        .ok()
        .and_then(|value| value.get("customer_id")?.as_str().map(str::to_owned))
        .unwrap_or_else(|| "-".into())
}

fn pace(written: u64, rate: Option<f64>, started: Instant) {
    if let Some(rate) = rate {
        let due = Duration::from_secs_f64(written as f64 / rate);
        if let Some(wait) = due.checked_sub(started.elapsed()) {
            std::thread::sleep(wait);
        }
    }
}

/// Prints every record of every shard (KPL aggregates unpacked) through
/// `show`; without `follow`, stops once every shard is read to its tip.
pub fn tail(
    stream: &str,
    follow: bool,
    last: Option<usize>,
    show: impl Fn(&[u8]) -> String,
) -> anyhow::Result<()> {
    let rt = fraud_detector::aws::source_runtime()?;
    let client = rt.block_on(AwsSettings::default().kinesis());
    let listed = rt
        .block_on(shards::list_shards(&client, stream))
        .map_err(anyhow::Error::msg)?;
    let mut iterators = Vec::new();
    for shard in &listed {
        let start = shards::StartAt::TrimHorizon;
        let iterator = rt.block_on(shards::iterator(&client, stream, &shard.shard_id, &start));
        iterators.push(Some(
            iterator.map_err(|error| anyhow::anyhow!("{error:?}"))?,
        ));
    }
    let mut held: Vec<String> = Vec::new();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    loop {
        let mut at_tip = true;
        for slot in iterators.iter_mut() {
            let Some(iterator) = slot.take() else {
                continue;
            };
            let fetched = match rt.block_on(shards::fetch(&client, &iterator, 10_000)) {
                Ok(fetched) => fetched,
                Err(shards::FetchError::Throttled(_)) => {
                    *slot = Some(iterator);
                    at_tip = false;
                    std::thread::sleep(Duration::from_millis(200));
                    continue;
                }
                Err(error) => anyhow::bail!("reading {stream}: {error:?}"),
            };
            at_tip &= fetched.records.is_empty() && fetched.millis_behind_latest.unwrap_or(0) == 0;
            for record in &fetched.records {
                for part in kpl::deaggregate(record.data().as_ref())? {
                    held.push(show(part));
                }
            }
            *slot = fetched.next_iterator;
        }
        if follow || at_tip {
            let skip = if follow {
                0
            } else {
                held.len().saturating_sub(last.unwrap_or(usize::MAX))
            };
            for line in held.drain(..).skip(skip) {
                if writeln!(out, "{line}").is_err() {
                    return Ok(()); // the reader went away (`| head`)
                }
            }
            if !follow {
                return Ok(());
            }
        }
        out.flush()?;
        std::thread::sleep(Duration::from_millis(250));
    }
}
