//! criterion benches for the hot path's stages: decode, state update with
//! rules (the engine's `decide`), rules alone, and encode.
//!
//!     cargo bench --bench core

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use fraud_detector::codecs::{Codec, CodecKind};
use fraud_detector::domain::{Decision, Transaction};
use fraud_detector::engine::{Engine, FixedClock};
use fraud_detector::generator::{Generated, Generator, GeneratorConfig};
use fraud_detector::model::{FeatureVector, OnnxScorer};
use fraud_detector::rules::{Novelty, Rules, RulesConfig, Signals, Travel};
use fraud_detector::state::{
    Amount, CustomerState, Observation, StateConfig, TerminalRisk, WindowLayout, WindowValue,
    MAX_WINDOWS,
};
use std::sync::Arc;
use std::time::Instant;

const SAMPLE: usize = 20_000;

fn transactions(count: usize) -> Vec<Transaction> {
    let config = GeneratorConfig {
        customers: 2_000,
        transactions: Some(count as u64),
        ..GeneratorConfig::default()
    };
    Generator::new(config)
        .expect("default generator settings are valid")
        .filter_map(|event| match event {
            Generated::Transaction { transaction, .. } => Some(transaction),
            Generated::Label(_) => None,
        })
        .collect()
}

fn engine() -> Engine {
    Engine::with_defaults(Arc::new(FixedClock(1_764_000_000_000)))
}

fn bench_decode(c: &mut Criterion) {
    let codec = Codec::new(CodecKind::Json);
    let lines: Vec<Vec<u8>> = transactions(SAMPLE)
        .iter()
        .map(|tx| serde_json::to_vec(tx).unwrap())
        .collect();
    let avro = Codec::new(CodecKind::Avro);
    let avro_records: Vec<Vec<u8>> = transactions(SAMPLE)
        .iter()
        .map(|tx| {
            let mut out = Vec::new();
            avro.encode(tx, &mut out).unwrap();
            out
        })
        .collect();
    let mut group = c.benchmark_group("decode");
    group.throughput(Throughput::Elements(SAMPLE as u64));
    group.bench_function("json_transaction", |b| {
        b.iter(|| {
            for line in &lines {
                criterion::black_box(codec.decode::<Transaction>(line).unwrap());
            }
        })
    });
    group.bench_function("avro_transaction", |b| {
        b.iter(|| {
            for record in &avro_records {
                criterion::black_box(avro.decode::<Transaction>(record).unwrap());
            }
        })
    });
    group.finish();
}

fn bench_decide(c: &mut Criterion) {
    let sample = transactions(SAMPLE);
    let mut group = c.benchmark_group("engine");
    group.throughput(Throughput::Elements(SAMPLE as u64));
    // Each iteration replays the sample into fresh state: windows, devices,
    // terminals and rules all do their real work.
    group.bench_function("decide_state_and_rules", |b| {
        b.iter_batched(
            engine,
            |engine| {
                for tx in &sample {
                    criterion::black_box(engine.decide(tx, 0, Instant::now()));
                }
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

fn bench_encode(c: &mut Criterion) {
    let engine = engine();
    let decisions: Vec<Decision> = transactions(SAMPLE)
        .iter()
        .map(|tx| engine.decide(tx, 0, Instant::now()).decision)
        .collect();
    let json = Codec::new(CodecKind::Json);
    let mut group = c.benchmark_group("encode");
    group.throughput(Throughput::Elements(SAMPLE as u64));
    group.bench_function("json_decision", |b| {
        let mut out = Vec::with_capacity(1 << 20);
        b.iter(|| {
            for decision in &decisions {
                out.clear();
                json.encode(decision, &mut out).unwrap();
            }
        })
    });
    group.finish();
}

fn signals_for(transaction: &Transaction, risky: bool) -> Signals<'_> {
    let window = WindowValue {
        count: if risky { 9 } else { 2 },
        small: 0,
        sum: 180.0,
        max: 95.0,
    };
    let novelty = Novelty {
        new: risky,
        known: 2,
    };
    Signals {
        transaction,
        event_time: 1_764_616_434_000,
        position: Some((55.7558, 37.6173)),
        seconds_since_last: Some(1_800.0),
        transactions_seen: 40,
        mean_amount: 80.0,
        stddev_amount: 25.0,
        windows: [window; MAX_WINDOWS],
        travel: Some(Travel::new(
            if risky { 7_531.0 } else { 3.0 },
            1_800.0,
            false,
        )),
        unknown_places: [None, None],
        device: Some(novelty),
        device_customers_24h: 1,
        ip: Some(novelty),
        ip_address: None,
        countries_24h: 1,
        merchants_24h: 2,
        compromised_since: None,
        terminal: Some([TerminalRisk::default(); 3]),
        late: false,
        ingestion_time: false,
    }
}

fn bench_rules(c: &mut Criterion) {
    let names: Vec<String> = ["1m", "1h", "24h", "7d", "30d"].map(String::from).to_vec();
    let rules = Rules::new(RulesConfig::default(), &names).expect("default rules are valid");
    let transactions = transactions(2);
    let mut risky = transactions[0].clone();
    risky.amount = 4_500.0;
    risky.merchant_category = Some("Cryptocurrency".into());
    let quiet = signals_for(&transactions[1], false);
    let alarming = signals_for(&risky, true);
    let mut group = c.benchmark_group("rules");
    group.throughput(Throughput::Elements(1));
    group.bench_function("judge_quiet", |b| {
        b.iter(|| rules.judge(criterion::black_box(&quiet)))
    });
    group.bench_function("judge_seven_reasons", |b| {
        b.iter(|| rules.judge(criterion::black_box(&alarming)))
    });
    group.finish();
}

fn bench_state(c: &mut Criterion) {
    let layout =
        WindowLayout::new(&StateConfig::default().windows).expect("default windows are valid");
    let observations: Vec<Observation> = (0..SAMPLE as u32)
        .map(|n| Observation {
            at: 800_000_000 + n * 97,
            amount: 20.0 + (n % 50) as f64,
            counted: Amount::new(20.0 + (n % 50) as f64, 5.0),
            position: Some((48.85, 2.35)),
            device: Some(n % 3),
            ip: Some(n % 4),
            merchant: Some(n % 7),
            country: Some(1),
            late: false,
        })
        .collect();
    let mut group = c.benchmark_group("state");
    group.throughput(Throughput::Elements(SAMPLE as u64));
    group.bench_function("customer_history_and_update", |b| {
        b.iter(|| {
            let mut customer = CustomerState::default();
            for observation in &observations {
                criterion::black_box(customer.history(&layout, observation));
                customer.observe(&layout, observation);
            }
            customer
        })
    });
    group.finish();
}

/// Needs ONNX Runtime: `FD_ONNXRUNTIME` or scripts/install-onnxruntime.sh.
fn bench_model(c: &mut Criterion) {
    let scorer = match OnnxScorer::load(std::path::Path::new("models/fraud-gbt-v1.onnx"), None) {
        Ok(scorer) => scorer,
        Err(error) => {
            eprintln!("model bench skipped: {error}");
            return;
        }
    };
    let engine = engine().with_features(true);
    let rows: Vec<FeatureVector> = transactions(4_096)
        .iter()
        .filter_map(|tx| engine.decide(tx, 0, Instant::now()).features)
        .collect();
    let mut group = c.benchmark_group("model");
    for batch in [1usize, 32, 256] {
        group.throughput(Throughput::Elements(batch as u64));
        group.bench_function(format!("score_batch_{batch}"), |b| {
            let mut chunks = rows.chunks(batch).cycle();
            b.iter(|| scorer.score(chunks.next().unwrap_or(&[])).unwrap())
        });
    }
    group.finish();
}

fn bench_geo(c: &mut Criterion) {
    let gazetteer = fraud_detector::geo::Gazetteer::embedded();
    let mut group = c.benchmark_group("geo");
    group.throughput(Throughput::Elements(1));
    group.bench_function("geodesic_distance_new_york_moscow", |b| {
        b.iter(|| {
            fraud_detector::engine::distance_km(
                criterion::black_box((40.7128, -74.0060)),
                criterion::black_box((55.7558, 37.6173)),
            )
        })
    });
    group.bench_function("geodesic_distance_same_city", |b| {
        b.iter(|| {
            fraud_detector::engine::distance_km(
                criterion::black_box((40.7128, -74.0060)),
                criterion::black_box((40.7306, -73.9352)),
            )
        })
    });
    group.bench_function("gazetteer_resolve", |b| {
        b.iter(|| gazetteer.resolve(criterion::black_box("Los Angeles, CA")))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench_decode, bench_state, bench_rules, bench_decide, bench_encode, bench_geo, bench_model
}
criterion_main!(benches);
