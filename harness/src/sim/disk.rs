//! A node's journal file: append, sync, read back after a crash.
//!
//! [`JournalFile`] is the interface the driver uses; [`SimJournal`] stores
//! the file on turmoil's simulated disk (writes pending until synced, lost
//! on crash, torn when the world sets a block size) and [`RealJournal`] on a
//! real file system for live mode.

use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

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

/// A file a journal can live in: the operations both turmoil's simulated
/// file and a real file have as inherent methods.
trait DurableFile: Read + Write + Seek {
    fn cut(&self, len: u64) -> io::Result<()>;
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

fn read_all(file: &mut impl DurableFile) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    file.seek(SeekFrom::Start(0))?;
    file.read_to_end(&mut bytes)?;
    Ok(bytes)
}

fn truncate(file: &mut impl DurableFile, len: u64) -> io::Result<()> {
    file.cut(len)?;
    file.seek(SeekFrom::Start(len))?;
    file.make_durable()
}

fn append(file: &mut impl DurableFile, bytes: &[u8]) -> io::Result<()> {
    file.seek(SeekFrom::End(0))?;
    file.write_all(bytes)
}

/// A journal on turmoil's simulated disk of the current host.
#[derive(Debug)]
pub struct SimJournal {
    file: turmoil::fs::shim::std::fs::File,
}

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
        Ok(SimJournal { file })
    }
}

impl JournalFile for SimJournal {
    fn read_all(&mut self) -> io::Result<Vec<u8>> {
        read_all(&mut self.file)
    }
    fn truncate(&mut self, len: u64) -> io::Result<()> {
        truncate(&mut self.file, len)
    }
    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        append(&mut self.file, bytes)
    }
    fn sync(&mut self) -> io::Result<()> {
        self.file.make_durable()
    }
}

/// A journal on the real file system (live mode).
#[derive(Debug)]
pub struct RealJournal {
    file: std::fs::File,
    path: PathBuf,
}

impl RealJournal {
    /// Open or create the journal at `path`.
    pub fn open(path: &Path) -> io::Result<RealJournal> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        Ok(RealJournal {
            file,
            path: path.to_path_buf(),
        })
    }

    /// Where the journal lives.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl JournalFile for RealJournal {
    fn read_all(&mut self) -> io::Result<Vec<u8>> {
        read_all(&mut self.file)
    }
    fn truncate(&mut self, len: u64) -> io::Result<()> {
        truncate(&mut self.file, len)
    }
    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        append(&mut self.file, bytes)
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
