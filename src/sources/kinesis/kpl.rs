//! De-aggregation of records the Kinesis Producer Library packed together.
//!
//! An aggregated record is the magic 0xF3899AC2, a protobuf `AggregatedRecord`
//! (`repeated string partition_key_table = 1; repeated string
//! explicit_hash_key_table = 2; repeated Record records = 3`, each `Record`
//! carrying its `bytes data = 3`), then the MD5 of the protobuf bytes. As the
//! KCL does, a record with the magic but a wrong digest is an ordinary record;
//! one whose digest matches but whose protobuf is broken is rejected.

use md5::{Digest, Md5};
use thiserror::Error;

pub const MAGIC: [u8; 4] = [0xF3, 0x89, 0x9A, 0xC2];
const DIGEST_LEN: usize = 16;

#[derive(Debug, Error, PartialEq, Eq)]
#[error("KPL aggregated record is malformed: {0}")]
pub struct AggregateError(pub &'static str);

/// The user records inside `data`: itself when it is not an aggregate.
pub fn deaggregate(data: &[u8]) -> Result<Vec<&[u8]>, AggregateError> {
    let Some(message) = aggregated_message(data) else {
        return Ok(vec![data]);
    };
    let mut records = Vec::new();
    let mut fields = Fields::new(message);
    while let Some(field) = fields.next_field()? {
        if let (3, Value::Bytes(record)) = field {
            records.push(record_data(record)?);
        }
    }
    Ok(records)
}

/// The protobuf part, when `data` carries the magic and a matching digest.
fn aggregated_message(data: &[u8]) -> Option<&[u8]> {
    let body = data.strip_prefix(&MAGIC)?;
    if body.len() < DIGEST_LEN {
        return None;
    }
    let (message, digest) = body.split_at(body.len() - DIGEST_LEN);
    (Md5::digest(message).as_slice() == digest).then_some(message)
}

fn record_data(record: &[u8]) -> Result<&[u8], AggregateError> {
    let mut fields = Fields::new(record);
    let mut data = None;
    while let Some(field) = fields.next_field()? {
        if let (3, Value::Bytes(bytes)) = field {
            data = Some(bytes);
        }
    }
    data.ok_or(AggregateError("a sub-record has no data field"))
}

enum Value<'a> {
    Varint,
    Bytes(&'a [u8]),
    Fixed,
}

/// Just enough of the protobuf wire format to walk the two messages.
struct Fields<'a> {
    rest: &'a [u8],
}

impl<'a> Fields<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Fields { rest: bytes }
    }

    fn next_field(&mut self) -> Result<Option<(u64, Value<'a>)>, AggregateError> {
        if self.rest.is_empty() {
            return Ok(None);
        }
        let key = self.varint()?;
        let value = match key & 7 {
            0 => {
                self.varint()?;
                Value::Varint
            }
            1 => self.skip(8).map(|_| Value::Fixed)?,
            2 => {
                let len = usize::try_from(self.varint()?)
                    .map_err(|_| AggregateError("a length does not fit in memory"))?;
                Value::Bytes(self.skip(len)?)
            }
            5 => self.skip(4).map(|_| Value::Fixed)?,
            _ => return Err(AggregateError("unsupported protobuf wire type")),
        };
        Ok(Some((key >> 3, value)))
    }

    fn varint(&mut self) -> Result<u64, AggregateError> {
        let mut value = 0u64;
        for (index, byte) in self.rest.iter().enumerate().take(10) {
            value |= u64::from(byte & 0x7F) << (7 * index);
            if byte & 0x80 == 0 {
                self.rest = &self.rest[index + 1..];
                return Ok(value);
            }
        }
        Err(AggregateError("truncated or overlong varint"))
    }

    fn skip(&mut self, len: usize) -> Result<&'a [u8], AggregateError> {
        if self.rest.len() < len {
            return Err(AggregateError("a field runs past the end of the record"));
        }
        let (taken, rest) = self.rest.split_at(len);
        self.rest = rest;
        Ok(taken)
    }
}

/// Packs `records` into one aggregated record as the KPL does (each with
/// its partition key); `produce --aggregate` and the tests use it.
pub fn aggregate(records: &[(&str, &[u8])]) -> Vec<u8> {
    let mut keys: Vec<&str> = Vec::new();
    let mut message = Vec::new();
    for (key, _) in records {
        if !keys.contains(key) {
            keys.push(key);
            put_bytes(1, key.as_bytes(), &mut message);
        }
    }
    for (key, data) in records {
        let index = keys.iter().position(|known| known == key).unwrap_or(0);
        let mut record = Vec::with_capacity(data.len() + 8);
        put_varint(1 << 3, &mut record);
        put_varint(index as u64, &mut record);
        put_bytes(3, data, &mut record);
        put_bytes(3, &record, &mut message);
    }
    let mut out = Vec::with_capacity(MAGIC.len() + message.len() + DIGEST_LEN);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&message);
    out.extend_from_slice(&Md5::digest(&message));
    out
}

fn put_varint(mut value: u64, out: &mut Vec<u8>) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn put_bytes(number: u64, bytes: &[u8], out: &mut Vec<u8>) {
    put_varint(number << 3 | 2, out);
    put_varint(bytes.len() as u64, out);
    out.extend_from_slice(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unpacks_every_sub_record_in_order() {
        let big = vec![b'x'; 300];
        let data = aggregate(&[("c1", b"{\"a\":1}"), ("c2", b"{\"b\":2}"), ("c1", &big)]);
        let records = deaggregate(&data).unwrap();
        assert_eq!(records, vec![&b"{\"a\":1}"[..], b"{\"b\":2}", &big[..]]);
    }

    #[test]
    fn a_plain_record_is_itself() {
        assert_eq!(deaggregate(b"{\"x\":1}").unwrap(), vec![&b"{\"x\":1}"[..]]);
        assert_eq!(deaggregate(&MAGIC).unwrap(), vec![&MAGIC[..]]);
    }

    #[test]
    fn a_wrong_digest_means_not_an_aggregate() {
        let mut data = aggregate(&[("c1", b"one")]);
        let last = data.len() - 1;
        data[last] ^= 1;
        assert_eq!(deaggregate(&data).unwrap(), vec![&data[..]]);
    }

    #[test]
    fn a_broken_message_with_a_good_digest_is_rejected() {
        let message = [0x1A, 0x05, 0x01];
        let mut data = MAGIC.to_vec();
        data.extend_from_slice(&message);
        data.extend_from_slice(&Md5::digest(message));
        assert!(deaggregate(&data).is_err());
    }
}
