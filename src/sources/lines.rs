//! JSON lines with a bound on line length, shared by the file and stdin sources.

use super::{ingest, SourceError, SourceReport, Stream};
use crate::codecs::Codec;
use crate::runtime::{Router, Shutdown};
use std::io::{self, BufRead, BufReader, Read};

/// Lines longer than this are dead-lettered, not buffered whole.
pub const DEFAULT_MAX_RECORD_BYTES: usize = 1 << 20;

/// The serde default of every line-reading source's `max_record_bytes`.
pub fn default_max_record_bytes() -> usize {
    DEFAULT_MAX_RECORD_BYTES
}

/// Problems with a line-reading source's `max_record_bytes`.
pub fn max_record_bytes_problems(max_record_bytes: usize) -> Vec<String> {
    if max_record_bytes == 0 {
        vec!["max_record_bytes: must be at least 1".into()]
    } else {
        Vec::new()
    }
}

enum Line {
    End,
    Complete,
    /// The line ran past the limit; holds its full length.
    Oversize(usize),
}

/// Reads one line into `buffer` (without the newline), keeping at most
/// `max` bytes; the rest of an oversize line is skipped, not stored.
fn read_bounded_line(
    reader: &mut impl BufRead,
    buffer: &mut Vec<u8>,
    max: usize,
) -> io::Result<Line> {
    buffer.clear();
    let mut total = 0usize;
    loop {
        let available = reader.fill_buf()?;
        if available.is_empty() {
            return Ok(finish(total, max, true));
        }
        let (chunk, found_newline) = match available.iter().position(|&byte| byte == b'\n') {
            Some(end) => (&available[..end], true),
            None => (available, false),
        };
        let room = max.saturating_sub(buffer.len());
        buffer.extend_from_slice(&chunk[..chunk.len().min(room)]);
        total += chunk.len();
        let consumed = chunk.len() + found_newline as usize;
        reader.consume(consumed);
        if found_newline {
            return Ok(finish(total, max, false));
        }
    }
}

fn finish(total: usize, max: usize, at_end: bool) -> Line {
    match (total, at_end) {
        (0, true) => Line::End,
        (total, _) if total > max => Line::Oversize(total),
        _ => Line::Complete,
    }
}

pub(super) fn read_json_lines(
    reader: &mut BufReader<impl Read>,
    router: &mut Router,
    shutdown: &Shutdown,
    (codec, stream, max_bytes): (&Codec, Stream, usize),
) -> Result<SourceReport, SourceError> {
    let mut buffer = Vec::with_capacity(1024);
    let mut report = SourceReport::default();
    let mut line_number = 0u64;
    while !shutdown.is_triggered() {
        if reader.buffer().is_empty() {
            // About to block on input: let the work already read go on.
            router.flush()?;
        }
        let line =
            read_bounded_line(reader, &mut buffer, max_bytes).map_err(|error| SourceError::Io {
                source_name: router.source().to_owned(),
                what: format!("line {}", line_number + 1),
                detail: error.to_string(),
            })?;
        line_number += 1;
        let position = || format!("line {line_number}");
        match line {
            Line::End => break,
            Line::Oversize(length) => router.reject_oversize(
                stream == Stream::Labels,
                position(),
                length,
                max_bytes,
                &buffer,
            )?,
            Line::Complete if buffer.iter().all(u8::is_ascii_whitespace) => continue,
            Line::Complete => {
                ingest(
                    router,
                    codec,
                    stream,
                    trim_carriage_return(&buffer),
                    position,
                )?;
            }
        }
        report.records += 1;
    }
    router.flush()?;
    Ok(report)
}

fn trim_carriage_return(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_lines_skip_the_excess() {
        let input = format!("short\n{}\nafter", "x".repeat(100));
        let mut reader = io::BufReader::with_capacity(16, input.as_bytes());
        let mut buffer = Vec::new();
        assert!(matches!(
            read_bounded_line(&mut reader, &mut buffer, 50).unwrap(),
            Line::Complete
        ));
        assert_eq!(buffer, b"short");
        assert!(matches!(
            read_bounded_line(&mut reader, &mut buffer, 50).unwrap(),
            Line::Oversize(100)
        ));
        assert_eq!(buffer.len(), 50);
        assert!(matches!(
            read_bounded_line(&mut reader, &mut buffer, 50).unwrap(),
            Line::Complete
        ));
        assert_eq!(buffer, b"after");
        assert!(matches!(
            read_bounded_line(&mut reader, &mut buffer, 50).unwrap(),
            Line::End
        ));
    }
}
