//! The case store: one folder per case (`FRD-2025-0001/`) holding the case,
//! the transcript and the compliance report. Ids are unique across restarts
//! and processes: a number is taken by creating its folder, which fails if
//! someone else already holds it.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum CaseStoreError {
    #[error("case store {path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("case store: no free case number left for {0}")]
    Exhausted(i32),
}

#[derive(Debug)]
pub struct CaseStore {
    root: PathBuf,
    /// A hint for the next number to try; the folder creation decides.
    next: AtomicU32,
}

impl CaseStore {
    pub fn open(root: &Path) -> Result<CaseStore, CaseStoreError> {
        std::fs::create_dir_all(root).map_err(|error| io(root, error))?;
        Ok(CaseStore {
            root: root.to_owned(),
            next: AtomicU32::new(1),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn folder(&self, case_id: &str) -> PathBuf {
        self.root.join(case_id)
    }

    /// A new case id for `year`, with its folder created.
    pub fn allocate(&self, year: i32) -> Result<String, CaseStoreError> {
        for _ in 0..1_000_000 {
            let number = self.next.fetch_add(1, Ordering::Relaxed);
            let case_id = format!("FRD-{year}-{number:04}");
            let folder = self.folder(&case_id);
            match std::fs::create_dir(&folder) {
                Ok(()) => return Ok(case_id),
                Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(error) => return Err(io(&folder, error)),
            }
        }
        Err(CaseStoreError::Exhausted(year))
    }

    /// Writes `name` in the case's folder, atomically (temp file + rename).
    pub fn write(
        &self,
        case_id: &str,
        name: &str,
        bytes: &[u8],
    ) -> Result<PathBuf, CaseStoreError> {
        let path = self.folder(case_id).join(name);
        let temporary = path.with_extension("tmp");
        std::fs::write(&temporary, bytes).map_err(|error| io(&temporary, error))?;
        std::fs::rename(&temporary, &path).map_err(|error| io(&path, error))?;
        Ok(path)
    }
}

fn io(path: &Path, error: std::io::Error) -> CaseStoreError {
    CaseStoreError::Io {
        path: path.to_owned(),
        error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_stay_unique_across_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let first = CaseStore::open(dir.path()).unwrap();
        assert_eq!(first.allocate(2025).unwrap(), "FRD-2025-0001");
        assert_eq!(first.allocate(2025).unwrap(), "FRD-2025-0002");
        let restarted = CaseStore::open(dir.path()).unwrap();
        assert_eq!(restarted.allocate(2025).unwrap(), "FRD-2025-0003");
        restarted
            .write("FRD-2025-0003", "case.json", b"{}")
            .unwrap();
        assert!(dir.path().join("FRD-2025-0003/case.json").exists());
    }
}
