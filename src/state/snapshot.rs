//! Snapshots of all state to a file, restored on start.
//!
//! Entries are streamed one by one (no second copy of the state in memory),
//! followed by a checksum. The previous snapshots are kept beside the new
//! one, so a restore that finds the newest damaged falls back to an older one.
//! A snapshot taken while workers run is consistent per entry, not across
//! entries; the one taken at shutdown, after the drain, is exact.

use super::{CustomerState, DeviceState, KeyMap, StateStore, TerminalState, WindowSpec};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use thiserror::Error;
use xxhash_rust::xxh3::Xxh3;

const MAGIC: &[u8; 8] = b"FDSNAP\0\0";
/// Bump with a migration in `read_header` whenever an entry's layout changes.
pub const SNAPSHOT_VERSION: u32 = 1;

const TAG_CUSTOMER: u8 = 1;
const TAG_DEVICE: u8 = 2;
const TAG_TERMINAL: u8 = 3;
const TAG_END: u8 = 0;

#[derive(Debug, Error)]
pub enum SnapshotError {
    #[error("snapshot {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("snapshot {path}: not a fraud-detector snapshot")]
    NotASnapshot { path: PathBuf },
    #[error("snapshot {path}: version {found} is newer than this build understands ({SNAPSHOT_VERSION})")]
    UnknownVersion { path: PathBuf, found: u32 },
    #[error("snapshot {path}: corrupt ({detail})")]
    Corrupt { path: PathBuf, detail: String },
    #[error("snapshot {path} was taken with windows {found}; the topology has {expected}. Restore the old windows or move the snapshot away")]
    WindowsChanged {
        path: PathBuf,
        found: String,
        expected: String,
    },
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SnapshotStats {
    pub customers: usize,
    pub devices: usize,
    pub terminals: usize,
    pub bytes: u64,
}

#[derive(Serialize, Deserialize)]
struct Header {
    windows: Vec<WindowSpec>,
    watermark: u32,
}

impl StateStore {
    /// Writes a new snapshot at `path`, shifting older ones to `.1` ... `.keep`.
    pub fn write_snapshot(&self, path: &Path, keep: usize) -> Result<SnapshotStats, SnapshotError> {
        let io_error = |source| SnapshotError::Io {
            path: path.to_owned(),
            source,
        };
        if let Some(parent) = path
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty())
        {
            fs::create_dir_all(parent).map_err(io_error)?;
        }
        let temporary = path.with_extension("tmp");
        let stats = self.write_entries(&temporary).map_err(io_error)?;
        rotate(path, keep).map_err(io_error)?;
        fs::rename(&temporary, path).map_err(io_error)?;
        Ok(stats)
    }

    fn write_entries(&self, path: &Path) -> io::Result<SnapshotStats> {
        let file = File::create(path)?;
        let mut out = HashingWriter::new(BufWriter::new(file));
        out.inner.write_all(MAGIC)?;
        out.inner.write_all(&SNAPSHOT_VERSION.to_le_bytes())?;
        let header = Header {
            windows: self.config.windows.clone(),
            watermark: self.watermark(),
        };
        write_record(&mut out, &header)?;
        let mut stats = SnapshotStats {
            customers: write_map(&mut out, TAG_CUSTOMER, &self.customers)?,
            devices: write_map(&mut out, TAG_DEVICE, &self.devices)?,
            terminals: write_map(&mut out, TAG_TERMINAL, &self.terminals)?,
            bytes: 0,
        };
        out.write_all(&[TAG_END])?;
        let checksum = out.hasher.digest();
        out.inner.write_all(&checksum.to_le_bytes())?;
        let file = out.inner.into_inner().map_err(|error| error.into_error())?;
        file.sync_all()?;
        stats.bytes = file.metadata()?.len();
        Ok(stats)
    }

    /// Restores from the newest readable snapshot at `path` or its older
    /// copies. Ok(None) when there is none at all (a first start).
    pub fn restore_snapshot(
        &self,
        path: &Path,
        keep: usize,
    ) -> Result<Option<SnapshotStats>, SnapshotError> {
        let mut first_error = None;
        for candidate in
            std::iter::once(path.to_owned()).chain((1..=keep).map(|n| numbered(path, n)))
        {
            if !candidate.exists() {
                continue;
            }
            match self.restore_from(&candidate) {
                Ok(stats) => return Ok(Some(stats)),
                Err(error @ SnapshotError::WindowsChanged { .. }) => return Err(error),
                Err(error) => {
                    tracing::warn!(%error, "snapshot unreadable, trying an older one");
                    first_error.get_or_insert(error);
                }
            }
        }
        first_error.map_or(Ok(None), Err)
    }

    fn restore_from(&self, path: &Path) -> Result<SnapshotStats, SnapshotError> {
        let file = File::open(path).map_err(|source| SnapshotError::Io {
            path: path.to_owned(),
            source,
        })?;
        let bytes = file.metadata().map(|meta| meta.len()).unwrap_or(0);
        let mut input = HashingReader::new(BufReader::new(file));
        let watermark = read_header(&mut input, path, &self.config.windows)?;
        let corrupt = |detail: String| SnapshotError::Corrupt {
            path: path.to_owned(),
            detail,
        };
        let mut staged = Staged {
            watermark,
            ..Staged::default()
        };
        loop {
            let mut tag = [0u8; 1];
            input
                .read_exact(&mut tag)
                .map_err(|error| corrupt(error.to_string()))?;
            match tag[0] {
                TAG_CUSTOMER => staged
                    .customers
                    .push(read_record(&mut input).map_err(corrupt)?),
                TAG_DEVICE => staged
                    .devices
                    .push(read_record(&mut input).map_err(corrupt)?),
                TAG_TERMINAL => staged
                    .terminals
                    .push(read_record(&mut input).map_err(corrupt)?),
                TAG_END => break,
                other => return Err(corrupt(format!("unknown entry tag {other}"))),
            }
        }
        let expected = input.hasher.digest();
        let mut stored = [0u8; 8];
        input
            .inner
            .read_exact(&mut stored)
            .map_err(|error| corrupt(error.to_string()))?;
        if u64::from_le_bytes(stored) != expected {
            return Err(corrupt("checksum mismatch".into()));
        }
        // Only a fully verified snapshot touches the live maps.
        Ok(staged.install(self, bytes))
    }
}

#[derive(Default)]
struct Staged {
    watermark: u32,
    customers: Vec<(u64, CustomerState)>,
    devices: Vec<(u64, DeviceState)>,
    terminals: Vec<(u64, TerminalState)>,
}

impl Staged {
    fn install(self, store: &StateStore, bytes: u64) -> SnapshotStats {
        let stats = SnapshotStats {
            customers: self.customers.len(),
            devices: self.devices.len(),
            terminals: self.terminals.len(),
            bytes,
        };
        store.advance_watermark(self.watermark);
        for (key, customer) in self.customers {
            store.customers.insert(key, Box::new(customer));
        }
        for (key, device) in self.devices {
            store.devices.insert(key, device);
        }
        for (key, terminal) in self.terminals {
            store.terminals.insert(key, terminal);
        }
        stats
    }
}

fn read_header(
    input: &mut HashingReader<impl Read>,
    path: &Path,
    windows: &[WindowSpec],
) -> Result<u32, SnapshotError> {
    let mut magic = [0u8; 8];
    let mut version = [0u8; 4];
    let not_a_snapshot = || SnapshotError::NotASnapshot {
        path: path.to_owned(),
    };
    input
        .inner
        .read_exact(&mut magic)
        .map_err(|_| not_a_snapshot())?;
    input
        .inner
        .read_exact(&mut version)
        .map_err(|_| not_a_snapshot())?;
    if &magic != MAGIC {
        return Err(not_a_snapshot());
    }
    let version = u32::from_le_bytes(version);
    if version != SNAPSHOT_VERSION {
        return Err(SnapshotError::UnknownVersion {
            path: path.to_owned(),
            found: version,
        });
    }
    let header: Header = read_record(input).map_err(|detail| SnapshotError::Corrupt {
        path: path.to_owned(),
        detail,
    })?;
    if header.windows != windows {
        return Err(SnapshotError::WindowsChanged {
            path: path.to_owned(),
            found: describe(&header.windows),
            expected: describe(windows),
        });
    }
    Ok(header.watermark)
}

fn describe(windows: &[WindowSpec]) -> String {
    let parts: Vec<String> = windows
        .iter()
        .map(|spec| format!("{}:{}/{}", spec.name, spec.length, spec.buckets))
        .collect();
    format!("[{}]", parts.join(", "))
}

fn write_map<V: Serialize>(out: &mut impl Write, tag: u8, map: &KeyMap<V>) -> io::Result<usize> {
    let mut written = 0;
    for entry in map.iter() {
        out.write_all(&[tag])?;
        write_record(out, &(*entry.key(), entry.value()))?;
        written += 1;
    }
    Ok(written)
}

fn write_record(out: &mut impl Write, value: &impl Serialize) -> io::Result<()> {
    bincode::serialize_into(out, value)
        .map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error))
}

fn read_record<T: DeserializeOwned>(input: &mut impl Read) -> Result<T, String> {
    use bincode::Options;
    // Same encoding as `bincode::serialize_into`, with a bound on allocations
    // so a damaged length prefix cannot ask for gigabytes.
    bincode::DefaultOptions::new()
        .with_fixint_encoding()
        .allow_trailing_bytes()
        .with_limit(1 << 20)
        .deserialize_from(input)
        .map_err(|error| error.to_string())
}

fn numbered(path: &Path, n: usize) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

/// path.(keep-1) -> path.keep, ..., path -> path.1
fn rotate(path: &Path, keep: usize) -> io::Result<()> {
    if keep == 0 || !path.exists() {
        return Ok(());
    }
    for n in (1..keep).rev() {
        let older = numbered(path, n);
        if older.exists() {
            fs::rename(&older, numbered(path, n + 1))?;
        }
    }
    fs::rename(path, numbered(path, 1))
}

struct HashingWriter<W> {
    inner: W,
    hasher: Xxh3,
}

impl<W: Write> HashingWriter<W> {
    fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: Xxh3::new(),
        }
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let written = self.inner.write(bytes)?;
        self.hasher.update(&bytes[..written]);
        Ok(written)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

struct HashingReader<R> {
    inner: R,
    hasher: Xxh3,
}

impl<R: Read> HashingReader<R> {
    fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: Xxh3::new(),
        }
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buffer)?;
        self.hasher.update(&buffer[..read]);
        Ok(read)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{Amount, Observation, StateConfig};

    fn populated_store() -> StateStore {
        let store = StateStore::new(StateConfig::default()).unwrap();
        for customer in 0..50u64 {
            let observation = Observation {
                at: 700_000_000 + customer as u32,
                amount: 12.5,
                counted: Amount::new(12.5, 5.0),
                position: Some((48.85, 2.35)),
                device: Some(customer as u32),
                ip: None,
                merchant: Some(3),
                country: None,
                late: false,
            };
            store
                .customer_mut(customer)
                .observe(store.layout(), &observation);
        }
        store.device_mut(9).observe(1, 700_000_000);
        store.terminal_mut(4).add_transaction(700_000_000);
        store.advance_watermark(700_000_049);
        store
    }

    #[test]
    fn restores_what_it_wrote_and_keeps_older_copies() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.snap");
        let store = populated_store();
        store.write_snapshot(&path, 2).unwrap();
        let stats = store.write_snapshot(&path, 2).unwrap();
        assert_eq!(
            (stats.customers, stats.devices, stats.terminals),
            (50, 1, 1)
        );
        assert!(numbered(&path, 1).exists());

        let restored = StateStore::new(StateConfig::default()).unwrap();
        restored.restore_snapshot(&path, 2).unwrap().unwrap();
        assert_eq!(restored.active_customers(), 50);
        assert_eq!(restored.watermark(), 700_000_049);
        assert_eq!(
            **restored.customer(7).unwrap(),
            **store.customer(7).unwrap()
        );
    }

    #[test]
    fn a_damaged_snapshot_falls_back_to_the_previous_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.snap");
        let store = populated_store();
        store.write_snapshot(&path, 2).unwrap();
        store.write_snapshot(&path, 2).unwrap();
        let mut bytes = fs::read(&path).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0xff;
        fs::write(&path, bytes).unwrap();
        let restored = StateStore::new(StateConfig::default()).unwrap();
        assert_eq!(
            restored
                .restore_snapshot(&path, 2)
                .unwrap()
                .unwrap()
                .customers,
            50
        );
    }

    #[test]
    fn refuses_a_snapshot_taken_with_other_windows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.snap");
        populated_store().write_snapshot(&path, 0).unwrap();
        let mut config = StateConfig::default();
        config.windows.pop();
        let other = StateStore::new(config).unwrap();
        let error = other.restore_snapshot(&path, 0).unwrap_err();
        assert!(
            matches!(error, SnapshotError::WindowsChanged { .. }),
            "{error}"
        );
        assert!(StateStore::new(StateConfig::default())
            .unwrap()
            .restore_snapshot(&dir.path().join("none"), 2)
            .unwrap()
            .is_none());
    }
}
