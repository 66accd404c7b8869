//! Reads a topic's raw record batches over the Kafka protocol (Fetch v4,
//! read_uncommitted) and settles each transactional batch by the control
//! record that ends its producer's transaction: COMMIT keeps it, ABORT drops
//! it, none yet leaves it open.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    Committed,
    Aborted,
    Open,
}

#[derive(Debug, Clone)]
pub struct LogRecord {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub fate: Fate,
}

/// Every data record of `topic`'s partitions `0..partitions`, in log order.
pub fn read(port: u16, topic: &str, partitions: i32) -> Vec<LogRecord> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to the broker");
    let mut records = Vec::new();
    for partition in 0..partitions {
        records.extend(read_partition(&mut stream, topic, partition));
    }
    records
}

/// The committed values only.
pub fn committed(port: u16, topic: &str, partitions: i32) -> Vec<LogRecord> {
    read(port, topic, partitions)
        .into_iter()
        .filter(|record| record.fate == Fate::Committed)
        .collect()
}

/// (offset, key, value) of one record in a batch.
type RawRecord = (i64, Option<Vec<u8>>, Option<Vec<u8>>);

struct Batch {
    producer_id: i64,
    transactional: bool,
    control: bool,
    last_offset: i64,
    records: Vec<RawRecord>,
}

/// Empty answers below the high watermark before the reader stops (~2 s).
const EMPTY_FETCHES_BEFORE_GAP: u32 = 10;

fn read_partition(stream: &mut TcpStream, topic: &str, partition: i32) -> Vec<LogRecord> {
    let mut batches = Vec::new();
    let mut offset = 0i64;
    let mut empty_fetches = 0;
    loop {
        let (high_watermark, bytes) = fetch(stream, topic, partition, offset);
        let fetched = parse_batches(&bytes);
        if fetched.is_empty() {
            if offset >= high_watermark {
                break;
            }
            // tansu on S3 can raise the high watermark a moment before the
            // batch under it is readable, and after a broker SIGKILL it can
            // keep a watermark above a batch it never stored. Ask again, then
            // stop where any consumer would stop too.
            empty_fetches += 1;
            if empty_fetches >= EMPTY_FETCHES_BEFORE_GAP {
                eprintln!("{topic}/{partition}: nothing readable at {offset} < {high_watermark}");
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
            continue;
        }
        empty_fetches = 0;
        offset = fetched.last().map_or(offset, |batch| batch.last_offset + 1);
        batches.extend(fetched);
        if offset >= high_watermark {
            break;
        }
    }
    settle(partition, batches)
}

fn settle(partition: i32, batches: Vec<Batch>) -> Vec<LogRecord> {
    let mut out: Vec<LogRecord> = Vec::new();
    // Indexes into `out` of each producer's records in its open transaction.
    let mut open: HashMap<i64, Vec<usize>> = HashMap::new();
    for batch in batches {
        if batch.control {
            let fate = match batch.records.first().and_then(|(_, key, _)| key.clone()) {
                Some(key) if key.len() >= 4 && key[2..4] == [0, 1] => Fate::Committed,
                _ => Fate::Aborted,
            };
            for index in open.remove(&batch.producer_id).unwrap_or_default() {
                out[index].fate = fate;
            }
            continue;
        }
        for (offset, key, value) in batch.records {
            if batch.transactional {
                open.entry(batch.producer_id).or_default().push(out.len());
            }
            out.push(LogRecord {
                partition,
                offset,
                key,
                value,
                fate: if batch.transactional {
                    Fate::Open
                } else {
                    Fate::Committed
                },
            });
        }
    }
    out
}

fn fetch(stream: &mut TcpStream, topic: &str, partition: i32, offset: i64) -> (i64, Vec<u8>) {
    let mut body = Vec::new();
    body.extend_from_slice(&1i16.to_be_bytes()); // api key: Fetch
    body.extend_from_slice(&4i16.to_be_bytes()); // version
    body.extend_from_slice(&7i32.to_be_bytes()); // correlation id
    put_string(&mut body, "fd-log-reader");
    body.extend_from_slice(&(-1i32).to_be_bytes()); // replica id
    body.extend_from_slice(&100i32.to_be_bytes()); // max wait ms
    body.extend_from_slice(&0i32.to_be_bytes()); // min bytes
    body.extend_from_slice(&(8i32 << 20).to_be_bytes()); // max bytes
    body.push(0); // read_uncommitted: we judge the markers ourselves
    body.extend_from_slice(&1i32.to_be_bytes());
    put_string(&mut body, topic);
    body.extend_from_slice(&1i32.to_be_bytes());
    body.extend_from_slice(&partition.to_be_bytes());
    body.extend_from_slice(&offset.to_be_bytes());
    body.extend_from_slice(&(4i32 << 20).to_be_bytes());
    let mut frame = (body.len() as i32).to_be_bytes().to_vec();
    frame.extend_from_slice(&body);
    stream.write_all(&frame).unwrap();
    let mut size = [0u8; 4];
    stream.read_exact(&mut size).unwrap();
    let mut response = vec![0u8; i32::from_be_bytes(size) as usize];
    stream.read_exact(&mut response).unwrap();
    let mut reader = Cursor(&response, 0);
    reader.i32(); // correlation id
    reader.i32(); // throttle
    assert_eq!(reader.i32(), 1, "one topic in the fetch response");
    reader.string();
    assert_eq!(reader.i32(), 1, "one partition in the fetch response");
    reader.i32();
    let error = reader.i16();
    assert_eq!(error, 0, "fetch error {error} for {topic}/{partition}");
    let high_watermark = reader.i64();
    reader.i64(); // last stable offset
    let aborted = reader.i32();
    for _ in 0..aborted.max(0) {
        reader.i64();
        reader.i64();
    }
    let length = reader.i32();
    let records = if length > 0 {
        reader.take(length as usize).to_vec()
    } else {
        Vec::new()
    };
    (high_watermark, records)
}

fn put_string(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(&(text.len() as i16).to_be_bytes());
    out.extend_from_slice(text.as_bytes());
}

/// Record batches (magic 2), uncompressed; a partial batch at the end is left out.
fn parse_batches(bytes: &[u8]) -> Vec<Batch> {
    let mut batches = Vec::new();
    let mut at = 0usize;
    while at + 12 <= bytes.len() {
        let mut header = Cursor(bytes, at);
        let base_offset = header.i64();
        let length = header.i32() as usize;
        if at + 12 + length > bytes.len() {
            break;
        }
        let mut batch = Cursor(&bytes[..at + 12 + length], at + 12);
        batch.i32(); // partition leader epoch
        assert_eq!(batch.take(1)[0], 2, "record batch magic");
        batch.i32(); // crc
        let attributes = batch.i16();
        assert_eq!(
            attributes & 7,
            0,
            "the tests read uncompressed batches only"
        );
        let last_offset_delta = batch.i32();
        batch.i64();
        batch.i64();
        let producer_id = batch.i64();
        batch.i16();
        batch.i32();
        let count = batch.i32();
        let mut records = Vec::new();
        for _ in 0..count {
            batch.varint(); // length
            batch.take(1); // attributes
            batch.varint(); // timestamp delta
            let offset_delta = batch.varint();
            let key = batch.bytes();
            let value = batch.bytes();
            for _ in 0..batch.varint() {
                batch.bytes();
                batch.bytes();
            }
            records.push((base_offset + offset_delta, key, value));
        }
        batches.push(Batch {
            producer_id,
            transactional: attributes & 0x10 != 0,
            control: attributes & 0x20 != 0,
            last_offset: base_offset + i64::from(last_offset_delta),
            records,
        });
        at += 12 + length;
    }
    batches
}

struct Cursor<'a>(&'a [u8], usize);

impl Cursor<'_> {
    fn take(&mut self, count: usize) -> &[u8] {
        let slice = &self.0[self.1..self.1 + count];
        self.1 += count;
        slice
    }

    fn i16(&mut self) -> i16 {
        i16::from_be_bytes(self.take(2).try_into().unwrap())
    }

    fn i32(&mut self) -> i32 {
        i32::from_be_bytes(self.take(4).try_into().unwrap())
    }

    fn i64(&mut self) -> i64 {
        i64::from_be_bytes(self.take(8).try_into().unwrap())
    }

    fn string(&mut self) -> String {
        let length = self.i16().max(0) as usize;
        String::from_utf8_lossy(self.take(length)).into_owned()
    }

    /// Zigzag varint.
    fn varint(&mut self) -> i64 {
        let mut raw = 0u64;
        let mut shift = 0;
        loop {
            let byte = self.take(1)[0];
            raw |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                break;
            }
            shift += 7;
        }
        (raw >> 1) as i64 ^ -((raw & 1) as i64)
    }

    fn bytes(&mut self) -> Option<Vec<u8>> {
        let length = self.varint();
        (length >= 0).then(|| self.take(length as usize).to_vec())
    }
}
