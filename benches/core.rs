//! criterion benches for the hot path's stages: decode, state update with
//! rules (the engine's `decide`), rules alone, and encode.
//!
//!     cargo bench --bench core

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use fraud_detector::codecs::{Codec, CodecKind};
use fraud_detector::domain::{Decision, Transaction};
use fraud_detector::engine::{Engine, FixedClock};
use fraud_detector::generator::{Generated, Generator, GeneratorConfig};
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
    targets = bench_decode, bench_decide, bench_encode, bench_geo
}
criterion_main!(benches);
