//! A stand-in for the Hugging Face hub on 127.0.0.1, for tests: it answers the requests a hub
//! client makes for `zalando-datasets/fashion_mnist` (`GET .../resolve/main/<file>` with a
//! `Range` header) the way the hub does for LFS files: `X-Repo-Commit`, `ETag` and
//! `X-Linked-Etag` (the SHA-256 of the content), `X-Linked-Size`, `Content-Range`, 206 for
//! ranges. It serves real bytes (the parquet files of the shared hub cache), optionally with a
//! fault. Bounded: it stops when dropped, and by itself after `LIFETIME`.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::Digest;

/// The commit the stand-in reports (the real one of `refs/main` in the shared cache).
pub const COMMIT: &str = "531be5e2ccc9dba0c201ad3ae567a4f3d16ecdd2";
const LIFETIME: Duration = Duration::from_secs(300);

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fault {
    None,
    /// The first `n` downloads send the headers of the whole rest and half of its bytes, then
    /// close the connection.
    DropHalfway(usize),
    /// Downloads send the right number of bytes, some of them changed.
    Corrupt,
    NotFound,
    ServerError,
    /// Accepts connections and never answers.
    Hang,
    /// As the real hub: `/resolve/` answers 302 to an absolute CDN URL on the same server.
    CdnRedirect,
    /// Every answer redirects to itself.
    RedirectLoop,
    /// Downloads send half of their bytes, then nothing more (the connection stays open).
    StallHalfway,
    /// Downloads (not the 1-byte probe) ignore the `Range` header: 200 and the whole file.
    IgnoreRange,
    /// Downloads send the file and 1 MB more than the size the hub announced.
    Oversend,
    /// The etag is a git-style hash of 40 hex digits, not the content's SHA-256.
    GitEtag,
    /// The etag is `a/b`.
    SlashEtag,
    /// Downloads take their time: each 64 KB of the body after a 20 ms pause.
    Slow,
}

pub struct HubServer {
    pub endpoint: String,
    /// Request lines with their `Range` header, in order.
    pub log: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl Drop for HubServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

pub fn sha256_hex(b: &[u8]) -> String {
    format!("{:x}", sha2::Sha256::digest(b))
}

/// The real parquet files of the shared hub cache, as `(path in the repo, bytes)`.
pub fn real_files() -> Vec<(String, Vec<u8>)> {
    let hf = match std::env::var_os("HF_HOME") {
        Some(h) => std::path::PathBuf::from(h),
        None => std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/hf"),
    };
    let snap = hf.join("hub/datasets--zalando-datasets--fashion_mnist/snapshots").join(COMMIT);
    ["fashion_mnist/train-00000-of-00001.parquet", "fashion_mnist/test-00000-of-00001.parquet"]
        .iter()
        .map(|f| (f.to_string(), std::fs::read(snap.join(f)).unwrap_or_else(|e| panic!("{}: {e}", snap.join(f).display()))))
        .collect()
}

/// Serves `files` as `zalando-datasets/fashion_mnist`.
pub fn start(files: Vec<(String, Vec<u8>)>, fault: Fault) -> HubServer {
    start_repo("zalando-datasets/fashion_mnist", files, fault)
}

/// Serves `files` as the dataset repo `repo` (`ORG/NAME`), with the hub's listing of them at
/// `/api/datasets/{repo}/revision/main` (`{"sha": .., "siblings": [{"rfilename": ..}]}`).
pub fn start_repo(repo: &str, files: Vec<(String, Vec<u8>)>, fault: Fault) -> HubServer {
    let repo = repo.to_string();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    let log = Arc::new(Mutex::new(vec![]));
    let files = Arc::new(files);
    let drops = Arc::new(AtomicUsize::new(0));
    let (s, l, e) = (stop.clone(), log.clone(), endpoint.clone());
    std::thread::spawn(move || {
        let t0 = Instant::now();
        while !s.load(Ordering::SeqCst) && t0.elapsed() < LIFETIME {
            match listener.accept() {
                Ok((conn, _)) => {
                    let (s, l, e, files, drops, repo) = (s.clone(), l.clone(), e.clone(), files.clone(), drops.clone(), repo.clone());
                    std::thread::spawn(move || {
                        let _ = serve(conn, &repo, &files, fault, &e, &l, &s, &drops);
                    });
                }
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    });
    HubServer { endpoint, log, stop }
}

#[allow(clippy::too_many_arguments)]
fn serve(
    mut conn: TcpStream,
    repo: &str,
    files: &[(String, Vec<u8>)],
    fault: Fault,
    endpoint: &str,
    log: &Mutex<Vec<String>>,
    stop: &AtomicBool,
    drops: &AtomicUsize,
) -> std::io::Result<()> {
    conn.set_nonblocking(false)?;
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
    let mut range: Option<(u64, Option<u64>)> = None;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            if k.eq_ignore_ascii_case("range") {
                let v = v.trim().trim_start_matches("bytes=");
                let (a, b) = v.split_once('-').unwrap_or((v, ""));
                range = Some((a.parse().unwrap_or(0), b.parse().ok()));
            }
        }
    }
    log.lock().unwrap().push(format!("GET {path} range={range:?}"));
    let plain = |conn: &mut TcpStream, status: &str, extra: &str| {
        write!(conn, "HTTP/1.1 {status}\r\n{extra}Content-Length: 0\r\nConnection: close\r\n\r\n")
    };
    match fault {
        Fault::Hang => {
            let t0 = Instant::now();
            while !stop.load(Ordering::SeqCst) && t0.elapsed() < LIFETIME {
                std::thread::sleep(Duration::from_millis(50));
            }
            return Ok(());
        }
        Fault::NotFound => return plain(&mut conn, "404 Not Found", "X-Error-Code: EntryNotFound\r\n"),
        Fault::ServerError => return plain(&mut conn, "500 Internal Server Error", ""),
        Fault::RedirectLoop => return plain(&mut conn, "302 Found", &format!("Location: {path}\r\n")),
        _ => {}
    }
    if path == format!("/api/datasets/{repo}/revision/main") {
        let siblings: Vec<String> = files.iter().map(|(f, _)| format!("{{\"rfilename\": \"{f}\"}}")).collect();
        let body = format!("{{\"id\": \"{repo}\", \"sha\": \"{COMMIT}\", \"siblings\": [{}]}}", siblings.join(", "));
        write!(conn, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len())?;
        return conn.flush();
    }
    let prefix = format!("/datasets/{repo}/resolve/main/");
    let (bytes, hub_headers) = if let Some(f) = path.strip_prefix(prefix.as_str()) {
        let Some((_, b)) = files.iter().find(|(name, _)| name == f) else {
            return plain(&mut conn, "404 Not Found", "X-Error-Code: EntryNotFound\r\n");
        };
        let sha = match fault {
            Fault::GitEtag => "0123456789abcdef0123456789abcdef01234567".to_string(),
            Fault::SlashEtag => "a/b".to_string(),
            _ => sha256_hex(b),
        };
        let hub = format!(
            "X-Repo-Commit: {COMMIT}\r\nETag: \"{sha}\"\r\nX-Linked-Etag: \"{sha}\"\r\nX-Linked-Size: {}\r\n",
            b.len()
        );
        if fault == Fault::CdnRedirect {
            return plain(&mut conn, "302 Found", &format!("{hub}Location: {endpoint}/cdn/{sha}\r\n"));
        }
        (b, hub)
    } else if let Some(sha) = path.strip_prefix("/cdn/") {
        match files.iter().find(|(_, b)| sha256_hex(b) == sha) {
            Some((_, b)) => (b, String::new()),
            None => return plain(&mut conn, "404 Not Found", ""),
        }
    } else {
        return plain(&mut conn, "404 Not Found", "");
    };
    let total = bytes.len() as u64;
    let (start, end) = match range {
        Some((a, b)) => (a.min(total), b.map_or(total - 1, |b| b.min(total - 1))),
        None => (0, total - 1),
    };
    let mut body = bytes[start as usize..=end as usize].to_vec();
    let download = end > start;
    if download && fault == Fault::Corrupt {
        let (mid, n) = (body.len() / 2, 64.min(body.len() - body.len() / 2));
        for b in &mut body[mid..mid + n] {
            *b ^= 0x5A;
        }
    }
    if download && fault == Fault::IgnoreRange && start > 0 {
        write!(conn, "HTTP/1.1 200 OK\r\n{hub_headers}Content-Length: {total}\r\nConnection: close\r\n\r\n")?;
        conn.write_all(bytes)?;
        return conn.flush();
    }
    if download && fault == Fault::Oversend {
        body.extend(std::iter::repeat_n(0u8, 1 << 20));
    }
    let status = if range.is_some() { "206 Partial Content" } else { "200 OK" };
    write!(
        conn,
        "HTTP/1.1 {status}\r\n{hub_headers}Accept-Ranges: bytes\r\nContent-Range: bytes {start}-{end}/{total}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    if download && fault == Fault::StallHalfway {
        conn.write_all(&body[..body.len() / 2])?;
        conn.flush()?;
        // Stalls as long as a hung server (LIFETIME): a client without a read timeout would wait
        // that long, far past the tests' bounds.
        let t0 = Instant::now();
        while !stop.load(Ordering::SeqCst) && t0.elapsed() < LIFETIME {
            std::thread::sleep(Duration::from_millis(50));
        }
        return Ok(());
    }
    if download && fault == Fault::Slow {
        for chunk in body.chunks(1 << 16) {
            std::thread::sleep(Duration::from_millis(20));
            conn.write_all(chunk)?;
        }
        return conn.flush();
    }
    if let Fault::DropHalfway(n) = fault {
        if download && drops.fetch_add(1, Ordering::SeqCst) < n {
            conn.write_all(&body[..body.len() / 2])?;
            conn.flush()?;
            return conn.shutdown(std::net::Shutdown::Both);
        }
    }
    conn.write_all(&body)?;
    conn.flush()
}
