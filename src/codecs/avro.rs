//! Avro: single datums, the Confluent wire format and object container files.

use super::{CodecError, DecodeError, Record};
use apache_avro::{types::Value, Schema};
use std::io::{self, Read, Write};
use std::marker::PhantomData;
use std::sync::Once;

const CONFLUENT_MAGIC_BYTE: u8 = 0;
const CONFLUENT_HEADER_LEN: usize = 5;

/// apache-avro believes any length prefix up to this size and allocates before
/// reading, so garbage input can ask for that much memory; its default (512
/// MiB, and arrays reserve that many 48-byte values) can abort the process. No
/// record or container block we handle comes near 16 MiB.
const MAX_AVRO_ALLOCATION_BYTES: usize = 16 << 20;

/// Process-wide apache-avro settings; both are first-call-wins, so every Avro
/// path calls this before touching apache-avro.
pub(super) fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        // Timestamps become longs and payloads bytes only when serde is told the
        // format is not human-readable (see domain::serde_time).
        apache_avro::set_serde_human_readable(false);
        apache_avro::max_allocation_bytes(MAX_AVRO_ALLOCATION_BYTES);
    });
}

pub(super) fn decode_datum<T: Record>(
    datum: &[u8],
    writer_schema: Option<&Schema>,
) -> Result<T, DecodeError> {
    let reader_schema = T::schema();
    let value = read_whole_datum::<T>(datum, writer_schema.unwrap_or(reader_schema))?;
    let value = match writer_schema {
        // Written with our own schema: the value already has our shape.
        None => value,
        Some(_) => resolve::<T>(value)?,
    };
    convert(&value)
}

fn read_whole_datum<T: Record>(datum: &[u8], schema: &Schema) -> Result<Value, DecodeError> {
    let mut input = EofTrackingSlice::new(datum);
    let decoded = apache_avro::from_avro_datum(schema, &mut input, None);
    if input.hit_eof {
        return Err(DecodeError::Truncated { record: T::NAME });
    }
    let value = decoded.map_err(|source| DecodeError::Avro {
        record: T::NAME,
        source: Box::new(source),
    })?;
    match input.remaining() {
        0 => Ok(value),
        count => Err(DecodeError::TrailingBytes {
            record: T::NAME,
            count,
        }),
    }
}

fn resolve<T: Record>(value: Value) -> Result<Value, DecodeError> {
    value
        .resolve(T::schema())
        .map_err(|source| DecodeError::Resolution {
            record: T::NAME,
            source: Box::new(source),
        })
}

fn convert<T: Record>(value: &Value) -> Result<T, DecodeError> {
    apache_avro::from_value(value).map_err(|source| DecodeError::Conversion {
        record: T::NAME,
        source: Box::new(source),
    })
}

/// A byte slice that remembers whether anyone read past its end.
///
/// apache-avro decodes a string, boolean or union cut off by the end of input
/// as null instead of failing, so a datum truncated at the right place would
/// decode "successfully" with fields missing. Any read past the end means the
/// datum was truncated.
struct EofTrackingSlice<'a> {
    rest: &'a [u8],
    hit_eof: bool,
}

impl<'a> EofTrackingSlice<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        EofTrackingSlice {
            rest: bytes,
            hit_eof: false,
        }
    }

    fn remaining(&self) -> usize {
        self.rest.len()
    }
}

impl Read for EofTrackingSlice<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if !buf.is_empty() && self.rest.is_empty() {
            self.hit_eof = true;
        }
        self.rest.read(buf)
    }

    fn read_exact(&mut self, buf: &mut [u8]) -> io::Result<()> {
        if buf.len() > self.rest.len() {
            self.hit_eof = true;
            self.rest = &[];
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        self.rest.read_exact(buf)
    }
}

pub(super) fn encode_datum<T: Record>(value: &T, out: &mut Vec<u8>) -> Result<(), CodecError> {
    let value = apache_avro::to_value(value).map_err(not_in_schema::<T>)?;
    let datum = apache_avro::to_avro_datum(T::schema(), value).map_err(not_in_schema::<T>)?;
    out.extend_from_slice(&datum);
    Ok(())
}

fn not_in_schema<T: Record>(source: apache_avro::Error) -> CodecError {
    CodecError::NotInSchema {
        record: T::NAME,
        source: Box::new(source),
    }
}

pub(super) fn write_confluent_header(schema_id: u32, out: &mut Vec<u8>) {
    out.push(CONFLUENT_MAGIC_BYTE);
    out.extend_from_slice(&schema_id.to_be_bytes());
}

/// Returns the datum after the header. The magic byte is checked first so a
/// JSON record on an Avro topic is reported as such, whatever its length.
pub(super) fn strip_confluent_header(
    bytes: &[u8],
    expected_id: Option<u32>,
) -> Result<&[u8], DecodeError> {
    if let Some(&found) = bytes.first() {
        if found != CONFLUENT_MAGIC_BYTE {
            return Err(DecodeError::WrongMagicByte { found });
        }
    }
    let Some((header, datum)) = bytes.split_first_chunk::<CONFLUENT_HEADER_LEN>() else {
        return Err(DecodeError::ShortHeader { len: bytes.len() });
    };
    let [_magic, id @ ..] = *header;
    let found = u32::from_be_bytes(id);
    match expected_id {
        Some(expected) if expected != found => {
            Err(DecodeError::SchemaIdMismatch { expected, found })
        }
        _ => Ok(datum),
    }
}

/// Writes `records` as one Avro object container file (header, then blocks).
pub fn write_container<T: Record>(records: &[T], mut out: impl Write) -> Result<(), CodecError> {
    init();
    // apache-avro's writer calls `write`, not `write_all`, on its output; building
    // the file in memory and handing it over with `write_all` cannot lose bytes
    // to a short write.
    let mut writer = apache_avro::Writer::new(T::schema(), Vec::new());
    for record in records {
        writer.append_ser(record).map_err(not_in_schema::<T>)?;
    }
    let file = writer
        .into_inner()
        .map_err(|error| CodecError::Container(Box::new(error)))?;
    out.write_all(&file)?;
    out.flush()?;
    Ok(())
}

/// Reads records back from an Avro object container file, one by one.
///
/// A record that decodes but does not fit `T` gives an `Err` and reading goes
/// on; a corrupt block gives one `Err` and ends the iteration, since nothing
/// after it can be trusted.
pub struct ContainerReader<T, R> {
    reader: apache_avro::Reader<'static, R>,
    needs_resolution: bool,
    _record: PhantomData<fn() -> T>,
}

impl<T: Record, R: Read> ContainerReader<T, R> {
    /// Reads the header; fails if it is not an Avro container.
    pub fn new(reader: R) -> Result<Self, DecodeError> {
        init();
        let reader = apache_avro::Reader::new(reader)
            .map_err(|error| DecodeError::Container(Box::new(error)))?;
        // Schemas equal in canonical form encode alike: no per-record resolution.
        let needs_resolution = reader.writer_schema() != T::schema();
        Ok(ContainerReader {
            reader,
            needs_resolution,
            _record: PhantomData,
        })
    }

    /// The schema the file was written with, from its header.
    pub fn writer_schema(&self) -> &Schema {
        self.reader.writer_schema()
    }

    fn to_record(&self, value: Value) -> Result<T, DecodeError> {
        let value = if self.needs_resolution {
            resolve::<T>(value)?
        } else {
            value
        };
        convert(&value)
    }
}

impl<T: Record, R: Read> Iterator for ContainerReader<T, R> {
    type Item = Result<T, DecodeError>;

    /// apache-avro's reader itself returns `None` after its first error.
    fn next(&mut self) -> Option<Self::Item> {
        let item = match self.reader.next()? {
            Ok(value) => self.to_record(value),
            Err(error) => Err(DecodeError::Container(Box::new(error))),
        };
        Some(item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codecs::{Codec, CodecKind};
    use crate::domain::{Channel, Label, RejectKind, Transaction};

    fn transaction() -> Transaction {
        Transaction {
            transaction_id: "TXN-1".into(),
            customer_id: "C-1".into(),
            amount: 4500.0,
            currency: Some("EUR".into()),
            timestamp: Some(1_764_616_434_250),
            merchant: Some("CRYPTO-EXCHANGE-XX".into()),
            merchant_category: None,
            mcc: Some("6051".into()),
            merchant_id: None,
            terminal_id: None,
            location: Some("Moscow, Russia".into()),
            latitude: Some(55.75),
            longitude: Some(37.62),
            country: Some("RU".into()),
            channel: Some(Channel::Ecom),
            card_present: Some(false),
            device_id: Some("dev-unknown".into()),
            ip_address: Some("185.220.101.5".into()),
            previous_location: None,
            time_since_last_transaction: None,
        }
    }

    fn label() -> Label {
        Label {
            transaction_id: "TXN-1".into(),
            is_fraud: true,
            reported_at: 1_764_616_434_250,
            customer_id: None,
            terminal_id: Some("T-9".into()),
            transaction_time: None,
            source: Some("chargeback".into()),
        }
    }

    fn encoded<T: Record>(codec: &Codec, value: &T) -> Vec<u8> {
        let mut out = Vec::new();
        codec.encode(value, &mut out).unwrap();
        out
    }

    fn confluent() -> Codec {
        Codec::new(CodecKind::ConfluentAvro).with_schema_id(42)
    }

    fn decode_kind(codec: &Codec, bytes: &[u8]) -> RejectKind {
        codec.decode::<Transaction>(bytes).unwrap_err().kind()
    }

    #[test]
    fn confluent_header_carries_the_schema_id() {
        let bytes = encoded(&confluent(), &transaction());
        assert_eq!(bytes[..5], [0, 0, 0, 0, 42]);
        let plain = encoded(&Codec::new(CodecKind::Avro), &transaction());
        assert_eq!(bytes[5..], plain[..]);
    }

    #[test]
    fn confluent_without_expected_id_accepts_any_id() {
        let bytes = encoded(&confluent(), &transaction());
        let decoded: Transaction = Codec::new(CodecKind::ConfluentAvro).decode(&bytes).unwrap();
        assert_eq!(decoded, transaction());
    }

    #[test]
    fn confluent_encode_without_schema_id_fails_and_writes_nothing() {
        let mut out = b"kept".to_vec();
        let error = Codec::new(CodecKind::ConfluentAvro)
            .encode(&transaction(), &mut out)
            .unwrap_err();
        assert!(matches!(error, CodecError::MissingSchemaId));
        assert_eq!(out, b"kept");
    }

    #[test]
    fn wrong_magic_byte_is_a_decode_error() {
        let mut bytes = encoded(&confluent(), &transaction());
        bytes[0] = 1;
        let error = confluent().decode::<Transaction>(&bytes).unwrap_err();
        assert!(matches!(error, DecodeError::WrongMagicByte { found: 1 }));
        assert_eq!(error.kind(), RejectKind::Decode);
        let json_on_avro_topic = br#"{"a":1}"#;
        assert!(matches!(
            confluent().decode::<Transaction>(json_on_avro_topic),
            Err(DecodeError::WrongMagicByte { found: b'{' })
        ));
    }

    #[test]
    fn short_header_is_a_decode_error() {
        for bytes in [&[][..], &[0][..], &[0, 0, 0, 42][..]] {
            let error = confluent().decode::<Transaction>(bytes).unwrap_err();
            assert!(
                matches!(error, DecodeError::ShortHeader { len } if len == bytes.len()),
                "{error}"
            );
            assert_eq!(error.kind(), RejectKind::Decode);
        }
    }

    #[test]
    fn schema_id_mismatch_is_a_decode_error() {
        let bytes = encoded(&confluent().with_schema_id(7), &transaction());
        let error = confluent().decode::<Transaction>(&bytes).unwrap_err();
        assert!(matches!(
            error,
            DecodeError::SchemaIdMismatch {
                expected: 42,
                found: 7
            }
        ));
        assert_eq!(error.kind(), RejectKind::Decode);
    }

    #[test]
    fn every_truncation_is_a_decode_error() {
        for codec in [Codec::new(CodecKind::Avro), confluent()] {
            let bytes = encoded(&codec, &transaction());
            let header_len = if codec.kind() == CodecKind::Avro {
                0
            } else {
                5
            };
            for len in header_len..bytes.len() {
                let error = codec.decode::<Transaction>(&bytes[..len]).unwrap_err();
                assert_eq!(error.kind(), RejectKind::Decode, "cut at {len}: {error}");
            }
        }
    }

    #[test]
    fn truncation_at_a_union_boundary_is_not_read_as_nulls() {
        let codec = Codec::new(CodecKind::Avro);
        let minimal = Label {
            terminal_id: None,
            source: None,
            ..label()
        };
        let bytes = encoded(&codec, &minimal);
        // The four optional fields are one null-branch byte each, at the end.
        let error = codec
            .decode::<Label>(&bytes[..bytes.len() - 4])
            .unwrap_err();
        assert!(matches!(error, DecodeError::Truncated { .. }), "{error}");
    }

    #[test]
    fn trailing_bytes_are_a_decode_error() {
        let codec = Codec::new(CodecKind::Avro);
        let mut bytes = encoded(&codec, &label());
        bytes.push(0);
        let error = codec.decode::<Label>(&bytes).unwrap_err();
        assert!(matches!(error, DecodeError::TrailingBytes { count: 1, .. }));
        assert_eq!(error.kind(), RejectKind::Decode);
    }

    #[test]
    fn garbage_is_a_decode_error() {
        let codec = Codec::new(CodecKind::Avro);
        let garbage: [&[u8]; 4] = [
            b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff",
            b"\x7f",
            b"{\"transaction_id\":\"t\"}",
            b"\x02a\x02b\x00\x00\x00\x00\x00\x00\xf0\x7f\x09",
        ];
        for bytes in garbage {
            assert_eq!(decode_kind(&codec, bytes), RejectKind::Decode);
        }
    }

    #[test]
    fn huge_length_prefix_fails_without_allocating_it() {
        // A string claiming 2^62 bytes.
        let mut bytes = vec![0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f];
        bytes.extend_from_slice(b"abc");
        assert_eq!(
            decode_kind(&Codec::new(CodecKind::Avro), &bytes),
            RejectKind::Decode
        );
    }

    #[test]
    fn enum_index_out_of_range_is_a_decode_error() {
        let codec = Codec::new(CodecKind::Avro);
        let only_channel = Transaction {
            channel: Some(Channel::Pos),
            ..Codec::new(CodecKind::Json)
                .decode(br#"{"transaction_id":"t","customer_id":"c","amount":1}"#)
                .unwrap()
        };
        let mut bytes = encoded(&codec, &only_channel);
        // The channel symbol is followed by the five null branches of the last fields.
        let channel_symbol = bytes.len() - 6;
        assert_eq!(bytes[channel_symbol - 1..channel_symbol + 1], [0x02, 0x00]);
        bytes[channel_symbol] = 0x7e; // symbol 63 of 3
        assert_eq!(decode_kind(&codec, &bytes), RejectKind::Decode);
    }

    #[test]
    fn container_round_trip() {
        let records = vec![
            label(),
            Label {
                is_fraud: false,
                ..label()
            },
        ];
        let mut file = Vec::new();
        write_container(&records, &mut file).unwrap();
        let read: Vec<Label> = ContainerReader::new(file.as_slice())
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(read, records);
    }

    #[test]
    fn empty_container_still_has_a_header() {
        let mut file = Vec::new();
        write_container::<Label>(&[], &mut file).unwrap();
        assert!(file.starts_with(b"Obj\x01"));
        assert_eq!(
            ContainerReader::<Label, _>::new(file.as_slice())
                .unwrap()
                .count(),
            0
        );
    }

    #[test]
    fn not_a_container_fails_on_open() {
        let error = ContainerReader::<Label, _>::new(&b"{\"json\":true}"[..])
            .err()
            .unwrap();
        assert_eq!(error.kind(), RejectKind::Decode);
    }

    #[test]
    fn corrupt_block_yields_one_error_then_ends() {
        let records = vec![label(); 3];
        let mut file = Vec::new();
        write_container(&records, &mut file).unwrap();
        let sync_marker_start = file.len() - 16;
        file[sync_marker_start] ^= 0xff;
        let results: Vec<_> = ContainerReader::<Label, _>::new(file.as_slice())
            .unwrap()
            .collect();
        assert_eq!(results.len(), 1);
        assert_eq!(results[0].as_ref().unwrap_err().kind(), RejectKind::Decode);
    }

    #[test]
    fn truncated_container_yields_an_error() {
        let mut file = Vec::new();
        write_container(&[label(), label()], &mut file).unwrap();
        file.truncate(file.len() - 20);
        let results: Vec<_> = ContainerReader::<Label, _>::new(file.as_slice())
            .unwrap()
            .collect();
        assert!(matches!(
            results.last(),
            Some(Err(DecodeError::Container(_)))
        ));
    }

    #[test]
    fn container_of_another_record_type_is_rejected_per_record() {
        let mut file = Vec::new();
        write_container(&[label(), label()], &mut file).unwrap();
        let results: Vec<_> = ContainerReader::<Transaction, _>::new(file.as_slice())
            .unwrap()
            .collect();
        assert_eq!(results.len(), 2, "{results:?}");
        for result in results {
            assert_eq!(result.unwrap_err().kind(), RejectKind::Validation);
        }
    }
}
