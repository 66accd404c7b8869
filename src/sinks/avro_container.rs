//! Writes already-encoded Avro datums into an Avro object container file
//! (Avro 1.11 spec, "Object Container Files"), uncompressed.
//!
//! apache-avro's own writer wants typed values; the workers have already
//! encoded each record, so this writes the blocks around those bytes.

use std::io::{self, Write};
use xxhash_rust::xxh3::xxh3_128;

pub struct ContainerWriter<W: Write> {
    out: W,
    sync_marker: [u8; 16],
}

impl<W: Write> ContainerWriter<W> {
    pub fn new(mut out: W, schema_json: &str) -> io::Result<ContainerWriter<W>> {
        // Derived from the schema: deterministic output, unique enough per file type.
        let sync_marker = xxh3_128(schema_json.as_bytes()).to_le_bytes();
        out.write_all(b"Obj\x01")?;
        write_long(&mut out, 2)?;
        write_bytes(&mut out, b"avro.schema")?;
        write_bytes(&mut out, schema_json.as_bytes())?;
        write_bytes(&mut out, b"avro.codec")?;
        write_bytes(&mut out, b"null")?;
        write_long(&mut out, 0)?;
        out.write_all(&sync_marker)?;
        Ok(ContainerWriter { out, sync_marker })
    }

    /// One block holding every datum of the batch. Returns the bytes written.
    pub fn write_block<'a>(
        &mut self,
        datums: impl Iterator<Item = &'a [u8]> + Clone,
    ) -> io::Result<u64> {
        let count = datums.clone().count() as i64;
        if count == 0 {
            return Ok(0);
        }
        let size: usize = datums.clone().map(<[u8]>::len).sum();
        write_long(&mut self.out, count)?;
        write_long(&mut self.out, size as i64)?;
        for datum in datums {
            self.out.write_all(datum)?;
        }
        self.out.write_all(&self.sync_marker)?;
        Ok(size as u64 + 36)
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}

fn write_long(out: &mut impl Write, value: i64) -> io::Result<()> {
    let mut zigzag = ((value << 1) ^ (value >> 63)) as u64;
    loop {
        let byte = (zigzag & 0x7f) as u8;
        zigzag >>= 7;
        if zigzag == 0 {
            return out.write_all(&[byte]);
        }
        out.write_all(&[byte | 0x80])?;
    }
}

fn write_bytes(out: &mut impl Write, bytes: &[u8]) -> io::Result<()> {
    write_long(out, bytes.len() as i64)?;
    out.write_all(bytes)
}
