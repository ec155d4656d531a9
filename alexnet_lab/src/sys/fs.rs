//! Files that survive a crash: written to a temporary name, synced, renamed, the folder synced.
//! The checkpoints, the run files and the CLI's pictures are all written this way.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// Writes `bytes` to `path` atomically: a temporary file in the same folder, fsync, rename,
/// then fsync of the folder (so that a power loss after the return cannot undo the rename). On
/// failure (a full disk, say) the temporary file is removed and `path` is untouched.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = tmp_path(path);
    let ctx = |what: &str| format!("cannot {what} {}", tmp.display());
    let written = (|| {
        let mut f = std::fs::File::create(&tmp).map_err(|e| Error::io(ctx("create"), e))?;
        super::failpoint::abort_in_write(path, &mut f, bytes);
        f.write_all(bytes).map_err(|e| Error::io(ctx("write"), e))?;
        f.sync_all().map_err(|e| Error::io(ctx("sync"), e))?;
        super::failpoint::hold_in_write(path);
        Ok(())
    })();
    commit_tmp(written, &tmp, path)
}

/// The safetensors writer creates its files readable by the owner only (0600); a run folder's
/// files are all 0644 like the metrics and the curve, so a shared run can be read by others.
pub(crate) fn readable_by_all(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644))
            .map_err(|e| Error::io(format!("cannot set the permissions of {}", path.display()), e))?;
    }
    Ok(())
}

/// Renames a written temporary file into place and syncs the folder, or removes it when the
/// write failed.
pub(crate) fn commit_tmp(written: Result<()>, tmp: &Path, path: &Path) -> Result<()> {
    if let Err(e) = written {
        let _ = std::fs::remove_file(tmp);
        return Err(e);
    }
    std::fs::rename(tmp, path).map_err(|e| Error::io(format!("cannot rename {} to {}", tmp.display(), path.display()), e))?;
    sync_dir(path.parent().unwrap_or(Path::new(".")))
}

/// fsync of a folder: makes the renames and new names in it durable (POSIX). A no-op where
/// folders cannot be opened as files.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
    #[cfg(unix)]
    std::fs::File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(|e| Error::io(format!("cannot sync the folder {}", dir.display()), e))?;
    Ok(())
}

pub(crate) fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

/// Reads a whole file that must be a regular file (a symlink to one is fine) of at most `max`
/// bytes: a FIFO (which would block the read until someone writes), a device (`/dev/zero` never
/// ends), a folder, or a file over the bound is refused before it is opened, naming `what` it
/// should have been. The read itself stops at `max + 1` bytes (a file that grows meanwhile).
pub fn read_regular(path: &Path, max: u64, what: &str) -> Result<Vec<u8>> {
    use std::io::Read;
    let (f, len) = open_regular(path, max, what)?;
    let mut bytes = Vec::with_capacity(len as usize);
    f.take(max + 1).read_to_end(&mut bytes).map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
    if bytes.len() as u64 > max {
        return Err(too_big(path, bytes.len() as u64, max, what));
    }
    Ok(bytes)
}

/// Opens a file that must be a regular file of at most `max` bytes ([`read_regular`]'s checks,
/// made before it is opened), for a caller that reads only part of it; with its length.
pub(crate) fn open_regular(path: &Path, max: u64, what: &str) -> Result<(std::fs::File, u64)> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
    if !meta.is_file() {
        let kind = if meta.is_dir() { "a folder" } else { "not a regular file (a FIFO, a socket or a device)" };
        return Err(Error::data(format!("{} is {kind}; expected {what}", path.display())));
    }
    if meta.len() > max {
        return Err(too_big(path, meta.len(), max, what));
    }
    let f = std::fs::File::open(path).map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
    Ok((f, meta.len()))
}

fn too_big(path: &Path, n: u64, max: u64, what: &str) -> Error {
    Error::data(format!("{} holds {n} bytes, more than the {max} expected of {what}", path.display()))
}

/// Opens (creating it and its folder) a lock file for an advisory `flock`, which is released
/// when the file is dropped or the process ends, `kill -9` included.
pub(crate) fn open_lock_file(path: &Path) -> Result<std::fs::File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| Error::io(format!("cannot open the lock file {}", path.display()), e))
}

/// SHA-256 of a file, as lowercase hex.
pub fn file_sha256(path: &Path) -> Result<String> {
    use sha2::Digest;
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
    let mut h = sha2::Sha256::new();
    std::io::copy(&mut f, &mut h).map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
    Ok(format!("{:x}", h.finalize()))
}


/// `YYYY-MM-DD` (UTC) of a Unix time in seconds (the civil-from-days algorithm of H. Hinnant).
///
/// ```
/// assert_eq!(alexnet_lab::sys::fs::civil_date(0), "1970-01-01");
/// assert_eq!(alexnet_lab::sys::fs::civil_date(1_795_000_000), "2026-11-18");
/// ```
pub fn civil_date(unix_seconds: u64) -> String {
    let z = (unix_seconds / 86_400) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}
