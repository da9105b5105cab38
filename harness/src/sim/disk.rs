//! A node's journal file: append, sync, read back after a crash.
//!
//! [`JournalFile`] is the interface the driver uses; [`FileJournal`]
//! implements it over any [`DurableFile`]: [`SimJournal`] on turmoil's
//! simulated disk (writes pending until synced, lost on crash, torn when the
//! world sets a block size) and [`RealJournal`] on a real file system for
//! live mode.

use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

/// A journal file as the driver sees it.
pub trait JournalFile {
    /// Everything on disk (after a crash: only what was synced).
    fn read_all(&mut self) -> io::Result<Vec<u8>>;
    /// Cut the file to `len` bytes and make that durable (after recovery
    /// found a damaged tail), so new records follow the valid prefix.
    fn truncate(&mut self, len: u64) -> io::Result<()>;
    /// Append bytes (not durable until [`JournalFile::sync`]).
    fn append(&mut self, bytes: &[u8]) -> io::Result<()>;
    /// Make everything appended durable.
    fn sync(&mut self) -> io::Result<()>;
}

/// A file a journal can live in: the operations that turmoil's simulated
/// file and a real file both have as inherent methods.
pub trait DurableFile: Read + Write + Seek {
    /// Cut the file to `len` bytes.
    fn cut(&self, len: u64) -> io::Result<()>;
    /// Make everything written durable.
    fn make_durable(&self) -> io::Result<()>;
}

impl DurableFile for turmoil::fs::shim::std::fs::File {
    fn cut(&self, len: u64) -> io::Result<()> {
        self.set_len(len)
    }
    fn make_durable(&self) -> io::Result<()> {
        self.sync_all()
    }
}

impl DurableFile for std::fs::File {
    fn cut(&self, len: u64) -> io::Result<()> {
        self.set_len(len)
    }
    fn make_durable(&self) -> io::Result<()> {
        self.sync_data()
    }
}

/// A journal in one file, simulated or real.
#[derive(Debug)]
pub struct FileJournal<F> {
    file: F,
}

/// A journal on turmoil's simulated disk of the current host.
pub type SimJournal = FileJournal<turmoil::fs::shim::std::fs::File>;

/// A journal on the real file system: what live mode's nodes will write
/// (tested here so the simulated and the real disk keep one implementation).
#[cfg_attr(not(test), allow(dead_code))]
pub type RealJournal = FileJournal<std::fs::File>;

impl SimJournal {
    /// Open (or create, durably) the journal at `path` on this host's disk.
    pub fn open(path: &Path) -> io::Result<SimJournal> {
        use turmoil::fs::shim::std::fs;
        let existed = fs::exists(path);
        let file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .open(path)?;
        if !existed {
            // A new file's directory entry is durable only once the directory is synced.
            let parent = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("/"));
            fs::sync_dir(parent)?;
        }
        Ok(FileJournal { file })
    }
}

#[cfg_attr(not(test), allow(dead_code))]
impl RealJournal {
    /// Open or create the journal at `path`.
    pub fn open(path: &Path) -> io::Result<RealJournal> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        Ok(FileJournal { file })
    }
}

impl<F: DurableFile> JournalFile for FileJournal<F> {
    fn read_all(&mut self) -> io::Result<Vec<u8>> {
        let mut bytes = Vec::new();
        self.file.seek(SeekFrom::Start(0))?;
        self.file.read_to_end(&mut bytes)?;
        Ok(bytes)
    }

    fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.file.cut(len)?;
        self.file.seek(SeekFrom::Start(len))?;
        self.file.make_durable()
    }

    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.file.seek(SeekFrom::End(0))?;
        self.file.write_all(bytes)
    }

    fn sync(&mut self) -> io::Result<()> {
        self.file.make_durable()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_real_journal_appends_truncates_and_reads_back() {
        let path = std::env::temp_dir().join(format!("payfault-journal-{}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let mut journal = RealJournal::open(&path).unwrap();
        journal.append(b"hello ").unwrap();
        journal.append(b"world").unwrap();
        journal.sync().unwrap();
        assert_eq!(journal.read_all().unwrap(), b"hello world");
        journal.truncate(5).unwrap();
        journal.append(b"!").unwrap();
        assert_eq!(journal.read_all().unwrap(), b"hello!");
        std::fs::remove_file(&path).unwrap();
    }
}
