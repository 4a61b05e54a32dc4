//! Output files written whole or not at all, and one writer per output folder.
//!
//! [`write`] puts the bytes in a temporary file beside the target and renames it into place, so
//! a reader (or a full disk) never sees half a `report.html`: the old file stays until the new
//! one is complete. [`OutLock`] is an advisory lock (`flock`) on a `.stampede.lock` file that
//! holds the writer's pid, so two commands writing into the same `--out` at once cannot mix
//! their files, however close together they start; the system drops the lock when its process
//! ends, so a lock file left by a process that died is simply taken.

use std::io::{self, Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Temporary files of this process get distinct names.
static SERIAL: AtomicU64 = AtomicU64::new(0);

/// Writes `bytes` to `path` through a temporary file in the same folder and a rename: the file
/// is either the old one or the whole new one, never a cut one. The temporary file is removed
/// when anything fails.
pub fn write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map_or("out".into(), |n| n.to_string_lossy().into_owned());
    let temp = dir.join(format!(
        ".{name}.{}-{}.tmp",
        std::process::id(),
        SERIAL.fetch_add(1, Ordering::Relaxed)
    ));
    let written = std::fs::File::create_new(&temp)
        .and_then(|mut f| f.write_all(bytes).and_then(|()| f.sync_data()))
        .and_then(|()| std::fs::rename(&temp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written
}

/// The lock file's name in a locked folder.
pub const LOCK_FILE: &str = ".stampede.lock";

/// Why a folder could not be locked.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another live process holds the lock.
    #[error(
        "{dir} is being written by another stampede ({holder}); wait for it to end or choose another --out",
        dir = .dir.display(),
        holder = .pid.map_or("its pid not yet written".to_string(), |p| format!("pid {p}"))
    )]
    Busy {
        /// The folder.
        dir: PathBuf,
        /// The holder's pid, when it has written it.
        pid: Option<u32>,
    },
    /// The lock file could not be made.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The lock file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
}

/// The lock on an output folder, released when dropped (or when the process ends).
#[derive(Debug)]
pub struct OutLock {
    path: PathBuf,
    /// The locked file; closing it releases the lock.
    file: std::fs::File,
}

impl OutLock {
    /// Locks `dir` (which must exist) for this process: refused while another process holds
    /// it. After taking the lock it checks that the file is still the one at the path (a
    /// holder removes it when done), so two processes never both hold it.
    pub fn acquire(dir: &Path) -> Result<OutLock, LockError> {
        let path = dir.join(LOCK_FILE);
        let io_err = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        for _ in 0..8 {
            let mut file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(io_err)?;
            // SAFETY: flock on a descriptor this function owns; it takes no pointers.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
                let e = io::Error::last_os_error();
                if e.raw_os_error() != Some(libc::EWOULDBLOCK) {
                    return Err(io_err(e));
                }
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                return Err(LockError::Busy {
                    dir: dir.to_path_buf(),
                    pid: text.trim().parse().ok(),
                });
            }
            let same = match (file.metadata(), std::fs::metadata(&path)) {
                (Ok(held), Ok(there)) => held.ino() == there.ino() && held.dev() == there.dev(),
                _ => false,
            };
            if !same {
                continue; // the holder before us removed it: lock the file now at the path
            }
            file.set_len(0)
                .and_then(|()| file.rewind())
                .and_then(|()| writeln!(file, "{}", std::process::id()))
                .map_err(io_err)?;
            return Ok(OutLock { path, file });
        }
        Err(io_err(io::Error::other("the lock kept changing hands")))
    }
}

impl Drop for OutLock {
    fn drop(&mut self) {
        // Removed while still locked; a process that opened it meanwhile sees it gone and
        // locks the next one.
        let _ = std::fs::remove_file(&self.path);
        let _ = self.file.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fresh(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("stampede-out-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_file_is_replaced_whole_and_no_temporary_is_left() {
        let dir = fresh("write");
        let path = dir.join("report.html");
        write(&path, b"old").unwrap();
        write(&path, b"new and longer").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new and longer");
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("report.html")]);
        // A failed write leaves the old file and no temporary.
        assert!(write(&dir.join("missing/x.html"), b"x").is_err());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_held_lock_is_refused_and_a_leftover_file_taken() {
        let dir = fresh("lock");
        // A file left by a process that died holds no lock: taken.
        std::fs::write(dir.join(LOCK_FILE), "4194305\n").unwrap();
        let lock = OutLock::acquire(&dir).unwrap();
        let held = std::fs::read_to_string(dir.join(LOCK_FILE)).unwrap();
        assert_eq!(held.trim(), std::process::id().to_string());
        // While it is held, another taker (another open file, as another process would have)
        // is refused, naming the holder.
        let e = OutLock::acquire(&dir).unwrap_err();
        assert!(e.to_string().contains(&format!("(pid {})", std::process::id())), "{e}");
        drop(lock);
        assert!(!dir.join(LOCK_FILE).exists());
        let again = OutLock::acquire(&dir);
        assert!(again.is_ok());
        drop(again);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn many_takers_at_once_leave_exactly_one_holder() {
        let dir = fresh("race");
        for _ in 0..50 {
            let held: Vec<OutLock> = std::thread::scope(|s| {
                let takers: Vec<_> = (0..8).map(|_| s.spawn(|| OutLock::acquire(&dir).ok())).collect();
                takers.into_iter().filter_map(|t| t.join().unwrap()).collect()
            });
            assert_eq!(held.len(), 1);
        }
        let _ = std::fs::remove_dir_all(dir);
    }
}
