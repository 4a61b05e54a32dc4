//! Output files written whole or not at all, and one writer per output folder.
//!
//! [`write`] puts the bytes in a temporary file beside the target and renames it into place, so
//! a reader (or a full disk) never sees half a `report.html`: the old file stays until the new
//! one is complete. [`OutLock`] is a `.stampede.lock` file holding the writer's pid, created
//! with `create_new`, so two commands writing into the same `--out` at once cannot mix their
//! files; a lock left by a process that has died is taken over.

use std::io::{self, Write};
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
        "{dir} is being written by another stampede (pid {pid}); wait for it to end or choose another --out \
         (if no such process runs, remove {dir}/{LOCK_FILE})",
        dir = .dir.display()
    )]
    Busy {
        /// The folder.
        dir: PathBuf,
        /// The holder's pid.
        pid: u32,
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

/// The lock on an output folder, released (its file removed) when dropped.
#[derive(Debug)]
pub struct OutLock {
    path: PathBuf,
}

/// Whether a process with this pid runs (a pid we may not signal still runs).
fn alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        return false;
    }
    // SAFETY: signal 0 sends nothing; `kill` only checks that the process exists.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

impl OutLock {
    /// Locks `dir` (which must exist) for this process: refused while another live process
    /// holds it; a lock whose process has died (or that holds no pid) is taken over.
    pub fn acquire(dir: &Path) -> Result<OutLock, LockError> {
        let path = dir.join(LOCK_FILE);
        let io_err = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        for _ in 0..3 {
            match std::fs::File::create_new(&path) {
                Ok(mut f) => {
                    writeln!(f, "{}", std::process::id()).map_err(io_err)?;
                    return Ok(OutLock { path });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    let text = std::fs::read_to_string(&path).unwrap_or_default();
                    match text.trim().parse::<u32>() {
                        Ok(pid) if pid != std::process::id() && alive(pid) => {
                            return Err(LockError::Busy {
                                dir: dir.to_path_buf(),
                                pid,
                            });
                        }
                        // Stale (or ours from an earlier command in this process): take it over.
                        _ => {
                            let _ = std::fs::remove_file(&path);
                        }
                    }
                }
                Err(e) => return Err(io_err(e)),
            }
        }
        Err(io_err(io::Error::other("the lock kept changing hands")))
    }
}

impl Drop for OutLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
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
    fn a_live_holder_is_refused_and_a_dead_one_taken_over() {
        let dir = fresh("lock");
        // pid 1 always runs.
        std::fs::write(dir.join(LOCK_FILE), "1\n").unwrap();
        let e = OutLock::acquire(&dir).unwrap_err();
        assert!(e.to_string().contains("(pid 1)"), "{e}");
        // No process has pid 2^22 + 1 on Linux (pid_max is at most 2^22).
        std::fs::write(dir.join(LOCK_FILE), "4194305\n").unwrap();
        let lock = OutLock::acquire(&dir).unwrap();
        let held = std::fs::read_to_string(dir.join(LOCK_FILE)).unwrap();
        assert_eq!(held.trim(), std::process::id().to_string());
        drop(lock);
        assert!(!dir.join(LOCK_FILE).exists());
        let _ = std::fs::remove_dir_all(dir);
    }
}
