//! The hub source: `zalando-datasets/fashion_mnist` parquet files, downloaded and cached the
//! hub's way (read by [`super::parquet`]).
//!
//! The cache is `hf-hub`'s (and Python `huggingface_hub`'s) layout under `$HF_HOME/hub`:
//! `blobs/<etag>` holds the bytes, `snapshots/<commit>/<file>` is a relative symlink to the
//! blob, `refs/main` names the commit. `hf-hub`'s [`Cache`] finds files in it; a cache made by
//! any hub client works, offline too (`HF_HUB_OFFLINE=1`).
//!
//! The download itself is the lab's own (with `ureq`, the HTTP client `hf-hub` 0.5 uses),
//! because `hf-hub` 0.5's sync `download` does three things wrong for a first-time user on a
//! real network: it sets no timeout (a server that never answers hangs the lab forever), it
//! renames whatever arrived into `blobs/` when a connection closes early (a partial file is
//! then read as complete), and it never checks the bytes against the etag (the etag of an LFS
//! file is its SHA-256). Here: connect / first byte / any silence while reading are bounded
//! ([`Hub::timeout`]); the bytes go to `blobs/<etag>.incomplete` (`huggingface_hub`'s name),
//! which a later run continues with an HTTP range request; only a file of the announced size
//! whose SHA-256 equals the etag is renamed into `blobs/`; a corrupt one is deleted.
//!
//! hf-hub is pinned to 0.5 with its `ureq` client on purpose: 1.0 dropped `ureq` for a tokio +
//! reqwest stack that is several times heavier to build.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use hf_hub::{Cache, Repo, RepoType};

use crate::{Error, Result};

pub const HUB_REPO: &str = "zalando-datasets/fashion_mnist";
pub(crate) const HUB_REVISION: &str = "main";
/// `[train, test]` paths inside the dataset repo.
pub const HUB_FILES: [&str; 2] =
    ["fashion_mnist/train-00000-of-00001.parquet", "fashion_mnist/test-00000-of-00001.parquet"];
/// The hub's address when `HF_ENDPOINT` does not name another.
pub const DEFAULT_ENDPOINT: &str = "https://huggingface.co";

/// Checks a dataset repo name: `ORG/NAME` of letters, digits, `-`, `_`, `.` (what the hub
/// allows), so that it can name cache folders and URLs.
pub(crate) fn check_repo_name(repo: &str) -> Result<()> {
    let ok_part = |p: &str| !p.is_empty() && !p.starts_with('.') && p.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    match repo.split_once('/') {
        Some((org, name)) if ok_part(org) && ok_part(name) => Ok(()),
        _ => Err(Error::config(format!(
            "`{repo}` is not a hub dataset name: expected ORG/NAME (letters, digits, - _ .), e.g. zalando-datasets/fashion_mnist"
        ))),
    }
}

/// The hub cache directory as the lab prints it in run logs and notebook outputs, without this
/// machine's absolute path: `$HF_HOME/hub` when `HF_HOME` names it, else the default under the
/// home directory as `~/.cache/huggingface/hub`. (Errors about a missing cache print the
/// absolute path, since that is where the user has to look.)
fn cache_label(cache: &Path, hf_home_set: bool, home: Option<PathBuf>) -> String {
    if hf_home_set {
        return "$HF_HOME/hub".into();
    }
    match home.and_then(|home| cache.strip_prefix(home).ok().map(Path::to_path_buf)) {
        Some(rel) => format!("~/{}", rel.display()),
        None => cache.display().to_string(),
    }
}

/// The longest wait on the network unless told otherwise ([`Hub::timeout`]).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Where the data comes from and how the lab talks to the hub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hub {
    /// The dataset repo, `ORG/NAME` ([`HUB_REPO`] unless [`Hub::for_repo`] names another).
    pub repo: String,
    /// The hub's address (`HF_ENDPOINT`, else [`DEFAULT_ENDPOINT`]).
    pub endpoint: String,
    /// The cache directory (`$HF_HOME/hub`).
    pub cache: PathBuf,
    /// How run logs and notebooks name the cache (`$HF_HOME/hub`, `~/.cache/huggingface/hub`):
    /// no machine's absolute path in a committed output.
    pub cache_label: String,
    /// Never download (`HF_HUB_OFFLINE=1`).
    pub offline: bool,
    /// Longest wait for a connection, for the first byte of an answer, and for the next bytes
    /// of a download ([`DEFAULT_TIMEOUT`]; the binary takes `ALEXNET_LAB_HUB_TIMEOUT`).
    pub timeout: Duration,
    /// Report a download on stderr: a line naming the file, the cache and the source, and a
    /// progress bar (drawn only on a terminal). Off: the library prints nothing.
    pub progress: bool,
}

/// What the hub says about a file before the download.
#[derive(Debug, Clone, PartialEq)]
struct Remote {
    commit: String,
    etag: String,
    size: u64,
    /// Where the bytes are (the file's URL, or where it redirects to).
    url: String,
}

impl Hub {
    /// Fashion-MNIST's repo with the settings every hub client takes from the environment:
    /// `HF_HOME` (the cache, default `~/.cache/huggingface`), `HF_HUB_OFFLINE=1` (never
    /// download), `HF_ENDPOINT` (a mirror). The one place the library reads them; everything
    /// else takes a `Hub` value ([`crate::data::Source::Hub`]).
    pub fn from_env() -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let cache = Cache::from_env().path().clone();
        let home = std::env::var_os("HOME").map(PathBuf::from);
        Self {
            repo: HUB_REPO.into(),
            endpoint: var("HF_ENDPOINT").unwrap_or_else(|| DEFAULT_ENDPOINT.into()),
            cache_label: cache_label(&cache, var("HF_HOME").is_some(), home),
            cache,
            offline: var("HF_HUB_OFFLINE").is_some_and(|v| v != "0"),
            timeout: DEFAULT_TIMEOUT,
            progress: true,
        }
    }

    /// A hub at `endpoint` with the cache `cache` (labelled by its path), online, no progress
    /// bar: what tests and a stand-in hub use.
    pub fn at(endpoint: &str, cache: &Path) -> Self {
        Self {
            repo: HUB_REPO.into(),
            endpoint: endpoint.into(),
            cache: cache.into(),
            cache_label: cache.display().to_string(),
            offline: false,
            timeout: DEFAULT_TIMEOUT,
            progress: false,
        }
    }

    /// The same settings for the dataset repo `repo` (`ORG/NAME`).
    pub fn for_repo(self, repo: &str) -> Result<Self> {
        check_repo_name(repo)?;
        Ok(Self { repo: repo.to_string(), ..self })
    }

    fn repo(&self) -> Repo {
        Repo::with_revision(self.repo.clone(), RepoType::Dataset, HUB_REVISION.into())
    }

    /// The files of the dataset repo: the hub's listing
    /// (`{endpoint}/api/datasets/{repo}/revision/main`), or offline the cached snapshot's.
    pub fn list(&self) -> Result<Vec<String>> {
        check_repo_name(&self.repo)?;
        self.check_ref()?;
        if self.offline {
            return self.cached_list().ok_or_else(|| Error::data(self.not_cached("HF_HUB_OFFLINE is set")));
        }
        let url = format!("{}/api/datasets/{}/revision/{HUB_REVISION}", self.endpoint.trim_end_matches('/'), self.repo);
        let what = "the list of files";
        let mut r = self.agent().get(&url).call().map_err(|e| self.unreachable(what, &url, &e))?;
        let status = r.status().as_u16();
        if status != 200 {
            let why = if status == 404 { "the hub has no such dataset: check the name (ORG/NAME) and HF_ENDPOINT" } else { "an unexpected answer" };
            return Err(self.http_error(what, &url, status, why));
        }
        let body = r
            .body_mut()
            .with_config()
            .limit(16 << 20)
            .read_to_string()
            .map_err(|e| Error::data(format!("{what} of {} from {url} cannot be read: {e}", self.repo)))?;
        let v: serde_json::Value = serde_json::from_str(&body)
            .map_err(|e| Error::data(format!("{what} of {} from {url} is not the hub's JSON: {e}", self.repo)))?;
        let files = v
            .get("siblings")
            .and_then(|s| s.as_array())
            .map(|s| s.iter().filter_map(|f| f.get("rfilename")?.as_str().map(String::from)).collect::<Vec<_>>())
            .ok_or_else(|| Error::data(format!("{what} of {} from {url} names no files (no `siblings`)", self.repo)))?;
        Ok(files)
    }

    /// The files of the cached snapshot that `refs/main` names, relative to it, sorted.
    fn cached_list(&self) -> Option<Vec<String>> {
        let commit = std::fs::read_to_string(self.repo_dir().join("refs").join(HUB_REVISION)).ok()?;
        let root = self.repo_dir().join("snapshots").join(commit.trim());
        let mut out = vec![];
        let mut stack = vec![root.clone()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).ok()?.flatten() {
                let p = e.path();
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    stack.push(p);
                } else if let Ok(rel) = p.strip_prefix(&root) {
                    out.push(rel.to_string_lossy().replace('\\', "/"));
                }
            }
        }
        out.sort();
        Some(out)
    }

    /// The URL of a file of the dataset (`{endpoint}/datasets/{repo}/resolve/{revision}/{file}`,
    /// as `hf-hub` builds it).
    pub(crate) fn url(&self, file: &str) -> String {
        let r = self.repo();
        format!("{}/{}/resolve/{}/{file}", self.endpoint.trim_end_matches('/'), r.url(), r.url_revision())
    }

    /// The cached copy of `file`, if the cache has one for the revision.
    pub fn cached(&self, file: &str) -> Option<PathBuf> {
        Cache::new(self.cache.clone()).repo(self.repo()).get(file)
    }

    fn repo_dir(&self) -> PathBuf {
        self.cache.join(self.repo().folder_name())
    }

    /// The local path of each file: from the cache when there, else downloaded into it.
    pub fn fetch(&self, files: &[&str]) -> Result<Vec<PathBuf>> {
        self.check_ref()?;
        files
            .iter()
            .map(|f| match self.cached(f) {
                Some(p) => Ok(p),
                None if self.offline => Err(Error::data(self.not_cached("HF_HUB_OFFLINE is set"))),
                None => self.download(f),
            })
            .collect()
    }

    /// `refs/main` must hold a commit: hf-hub's `Cache::get` joins what it holds onto the
    /// snapshots folder as a path, so an absolute path or `..` there would send the lab to read
    /// any file on the machine as the dataset.
    fn check_ref(&self) -> Result<()> {
        let path = self.repo_dir().join("refs").join(HUB_REVISION);
        let Ok(text) = std::fs::read_to_string(&path) else { return Ok(()) };
        let commit = text.trim();
        if commit.is_empty() || !commit.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(Error::data(format!(
                "{} holds `{}`, not a commit hash: the hub cache is damaged; remove that file and run again \
                 (the lab then downloads the dataset's files anew, or finds them in the cache)",
                path.display(),
                commit.chars().take(80).collect::<String>()
            )));
        }
        Ok(())
    }

    fn not_cached(&self, why: &str) -> String {
        if self.repo != HUB_REPO {
            return format!(
                "the hub dataset {} is not in the hub cache {} and {why}. Let the lab download it once (network, \
                 unset HF_HUB_OFFLINE), or point HF_HOME at a cache that holds it",
                self.repo,
                self.cache.display()
            );
        }
        format!(
            "Fashion-MNIST is not in the hub cache {} and {why}. Either let the lab download it \
             once (network, unset HF_HUB_OFFLINE), point HF_HOME at a cache that holds \
             {HUB_REPO} (e.g. HF_HOME=../shared/data/hf), or use the IDX files with \
             --data-dir DIR (train-images-idx3-ubyte.gz etc.)",
            self.cache.display()
        )
    }

    fn agent(&self) -> ureq::Agent {
        ureq::Agent::config_builder()
            .max_redirects(0)
            .http_status_as_error(false)
            .timeout_connect(Some(self.timeout))
            .timeout_recv_response(Some(self.timeout))
            .timeout_per_read(Some(self.timeout))
            .build()
            .into()
    }

    /// A request failed before an answer: what happened, where, and what to do.
    fn unreachable(&self, file: &str, url: &str, e: &ureq::Error) -> Error {
        let what = match e {
            ureq::Error::Timeout(_) => format!("{url} did not answer within {:.0} s", self.timeout.as_secs_f64()),
            other => format!("cannot reach {url}: {other}"),
        };
        Error::data(format!(
            "download of {file} from {} failed: {what}. Check the network (and HF_ENDPOINT), then run \
             the same command again; or use a cache (HF_HOME) or the IDX files (--data-dir)",
            self.endpoint
        ))
    }

    /// Commit, etag, size and location of `file`, as `hf-hub` reads them: a ranged GET
    /// (`bytes=0-0`), following redirects by hand; commit and etag (`X-Linked-Etag` before
    /// `ETag`) from the first answer that has them, the size from the final `Content-Range`.
    fn remote(&self, agent: &ureq::Agent, file: &str) -> Result<Remote> {
        let (mut url, mut commit, mut etag, mut linked_size) = (self.url(file), None, None, None);
        for _hop in 0..5 {
            let r = agent.get(&url).header("Range", "bytes=0-0").call().map_err(|e| self.unreachable(file, &url, &e))?;
            let header = |k: &str| r.headers().get(k).and_then(|v| v.to_str().ok()).map(|v| v.trim().trim_matches('"').to_string());
            commit = commit.or_else(|| header("x-repo-commit"));
            etag = etag.or_else(|| header("x-linked-etag").or_else(|| header("etag")));
            linked_size = linked_size.or_else(|| header("x-linked-size").and_then(|s| s.parse::<u64>().ok()));
            let status = r.status().as_u16();
            if (300..400).contains(&status) {
                let loc = header("location").ok_or_else(|| self.http_error(file, &url, status, "a redirect without a Location"))?;
                url = if loc.starts_with('/') { format!("{}{loc}", origin(&url)) } else { loc };
                continue;
            }
            if !(200..300).contains(&status) {
                let why = match status {
                    401 | 403 => "the hub refuses access to this file",
                    404 => "the hub has no such file: check HF_ENDPOINT and that the dataset still has this file",
                    500..=599 => "the server has a problem: try again later",
                    _ => "an unexpected answer",
                };
                return Err(self.http_error(file, &url, status, why));
            }
            let size = header("content-range")
                .and_then(|c| c.rsplit('/').next().and_then(|t| t.parse::<u64>().ok()))
                .or(linked_size)
                .or_else(|| if status == 200 { header("content-length").and_then(|s| s.parse().ok()) } else { None });
            let missing = |h: &str| self.http_error(file, &url, status, &format!("the answer lacks the {h} header a hub sends"));
            let commit = commit.ok_or_else(|| missing("X-Repo-Commit"))?;
            let etag = etag.ok_or_else(|| missing("ETag"))?;
            let size = size.ok_or_else(|| missing("Content-Range"))?;
            for (name, v) in [("commit", &commit), ("etag", &etag)] {
                if v.is_empty() || !v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
                    return Err(Error::data(format!(
                        "download of {file} from {}: the {name} `{v}` is not a plain name; refusing to use it as a file name",
                        self.endpoint
                    )));
                }
            }
            return Ok(Remote { commit, etag, size, url });
        }
        Err(Error::data(format!(
            "download of {file} from {} failed: more than 5 redirects, the last to {url} (a redirect loop?). \
             Nothing was saved; check HF_ENDPOINT, or use a cache (HF_HOME) or the IDX files (--data-dir)",
            self.endpoint
        )))
    }

    fn http_error(&self, file: &str, url: &str, status: u16, why: &str) -> Error {
        Error::data(format!(
            "download of {file} from {} failed: HTTP {status} for {url}: {why}. Nothing was saved; \
             run the command again later, or use a cache (HF_HOME) or the IDX files (--data-dir)",
            self.endpoint
        ))
    }

    /// Downloads `file` into the cache (see the module docs for what is checked) and returns
    /// its snapshot path.
    pub fn download(&self, file: &str) -> Result<PathBuf> {
        let agent = self.agent();
        let remote = self.remote(&agent, file)?;
        let dir = self.repo_dir();
        let blob = dir.join("blobs").join(&remote.etag);
        let io = |what: String| move |e: std::io::Error| Error::io(what, e);
        std::fs::create_dir_all(dir.join("blobs")).map_err(io(format!("cannot create {}", dir.join("blobs").display())))?;
        // One download of a file into a cache at a time: a second first run waits for the first
        // (an advisory lock, released when it ends, even by `kill -9`), then finds the blob. The
        // lock file is where Python's huggingface_hub keeps its own (`.locks/<repo>/<etag>.lock`,
        // also an flock), so the two clients do not download into one part either.
        let _lock = if blob.is_file() { None } else { Some(self.lock_download(file, &remote.etag)?) };
        if !blob.is_file() {
            let part = dir.join("blobs").join(format!("{}.incomplete", remote.etag));
            self.download_to(&agent, file, &remote, &part)?;
            verify(&part, &remote).map_err(|why| {
                let _ = std::fs::remove_file(&part);
                Error::data(format!(
                    "download of {file} from {} is corrupt: {why}. Nothing was kept: run the same command \
                     again (if it happens again, something between you and the hub alters the file)",
                    self.endpoint
                ))
            })?;
            std::fs::rename(&part, &blob).map_err(io(format!("cannot rename {} to {}", part.display(), blob.display())))?;
            crate::sys::fs::sync_dir(&dir.join("blobs"))?;
        }
        // snapshots/<commit>/<file> -> ../../blobs/<etag>, one more `..` per folder in `file`.
        let pointer = dir.join("snapshots").join(&remote.commit).join(file);
        let up = "../".repeat(Path::new(file).components().count() + 1);
        let target = PathBuf::from(format!("{up}blobs/{}", remote.etag));
        if let Some(parent) = pointer.parent() {
            std::fs::create_dir_all(parent).map_err(io(format!("cannot create {}", parent.display())))?;
        }
        // Linked under a name of its own, then renamed over the pointer: a run that already holds
        // the pointer's path never finds it missing (before: removed, then linked again, and a
        // second run finishing at that moment made the first one's read fail with NotFound).
        static LINKS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = LINKS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = pointer.file_name().map(|f| f.to_string_lossy().to_string()).unwrap_or_default();
        let tmp = pointer.with_file_name(format!(".{name}.{}-{n}.link", std::process::id()));
        let _ = std::fs::remove_file(&tmp);
        link(&target, &tmp).map_err(io(format!("cannot link {} to {}", tmp.display(), target.display())))?;
        std::fs::rename(&tmp, &pointer).map_err(io(format!("cannot rename {} to {}", tmp.display(), pointer.display())))?;
        let refs = dir.join("refs");
        std::fs::create_dir_all(&refs).map_err(io(format!("cannot create {}", refs.display())))?;
        crate::sys::fs::write_atomic(&refs.join(HUB_REVISION), remote.commit.as_bytes())?;
        Ok(pointer)
    }

    /// Takes the download lock of the blob `etag`, waiting (and saying so) while another process
    /// holds it.
    fn lock_download(&self, file: &str, etag: &str) -> Result<std::fs::File> {
        let path = self.cache.join(".locks").join(self.repo().folder_name()).join(format!("{etag}.lock"));
        let lock = crate::sys::fs::open_lock_file(&path)?;
        if let Err(std::fs::TryLockError::WouldBlock) = lock.try_lock() {
            if self.progress {
                eprintln!("another process is downloading {file} into {}: waiting for it to finish", self.cache.display());
            }
            lock.lock().map_err(|e| Error::io(format!("cannot lock {}", path.display()), e))?;
        }
        Ok(lock)
    }

    /// Appends the missing bytes of `file` to `part` (a range request from its length on).
    fn download_to(&self, agent: &ureq::Agent, file: &str, remote: &Remote, part: &Path) -> Result<()> {
        let io = |what: String| move |e: std::io::Error| Error::io(what, e);
        let mut have = std::fs::metadata(part).map(|m| m.len()).unwrap_or(0);
        if have > remote.size {
            // Longer than the file: not a part of it. Start again.
            std::fs::remove_file(part).map_err(io(format!("cannot remove {}", part.display())))?;
            have = 0;
        }
        let mb = |b: u64| b as f64 / 1e6;
        if have == remote.size {
            return Ok(());
        }
        if self.progress {
            eprintln!(
                "downloading {}/{file} ({:.1} MB{}) from {} into {} (once; later runs read the cache){}",
                self.repo,
                mb(remote.size),
                if have > 0 { format!(", continuing at {:.1} MB", mb(have)) } else { String::new() },
                self.endpoint,
                self.cache.display(),
                if is_sha256(&remote.etag) {
                    String::new()
                } else {
                    format!("; its etag `{}` is not a SHA-256, so the bytes are checked by their size only", remote.etag)
                }
            );
        }
        let r = agent
            .get(&remote.url)
            .header("Range", &format!("bytes={have}-"))
            .call()
            .map_err(|e| self.unreachable(file, &remote.url, &e))?;
        let status = r.status().as_u16();
        // 206: the rest from `have` on; 200: the server ignores ranges and sends it all.
        let append = match status {
            206 => true,
            200 => false,
            _ => return Err(self.http_error(file, &remote.url, status, "the download was refused")),
        };
        let mut out = std::fs::OpenOptions::new()
            .create(true)
            .append(append)
            .write(true)
            .truncate(!append)
            .open(part)
            .map_err(io(format!("cannot write {}", part.display())))?;
        let start = if append { have } else { 0 };
        let bar = if self.progress { indicatif::ProgressBar::new(remote.size) } else { indicatif::ProgressBar::hidden() };
        bar.set_style(
            indicatif::ProgressStyle::with_template("{msg} [{bar:24}] {bytes}/{total_bytes} {bytes_per_sec} {eta}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_message(file.rsplit('/').next().unwrap_or(file).to_string());
        bar.set_position(start);
        let (_, body) = r.into_parts();
        // Never more than the announced size: a server that sends more does not fill the disk.
        let mut reader = body.into_reader().take(remote.size - start);
        let mut buf = vec![0u8; 1 << 16];
        let mut got = start;
        let broke = |got: u64, why: String| {
            Error::data(format!(
                "download of {file} from {} broke off at {:.1} of {:.1} MB ({why}); the part is kept in {}: \
                 run the same command again to continue",
                self.endpoint,
                mb(got),
                mb(remote.size),
                part.display()
            ))
        };
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) => {
                    let _ = out.sync_all();
                    bar.abandon();
                    return Err(broke(got, e.to_string()));
                }
            };
            out.write_all(buf.get(..n).unwrap_or_default()).map_err(io(format!("cannot write {}", part.display())))?;
            got += n as u64;
            bar.set_position(got);
        }
        out.sync_all().map_err(io(format!("cannot sync {}", part.display())))?;
        bar.finish_and_clear();
        if got < remote.size {
            return Err(broke(got, "the connection closed early".into()));
        }
        Ok(())
    }
}

/// `scheme://host[:port]` of a URL.
fn origin(url: &str) -> &str {
    let after = url.find("://").map_or(0, |i| i + 3);
    url.get(after..).and_then(|rest| rest.find('/')).map_or(url, |i| url.get(..after + i).unwrap_or(url))
}

/// The size the hub announced, and the SHA-256 when the etag is one (LFS files; a git file's
/// etag is a git hash and cannot be checked this way).
fn verify(part: &Path, remote: &Remote) -> std::result::Result<(), String> {
    let len = std::fs::metadata(part).map_err(|e| e.to_string())?.len();
    if len != remote.size {
        return Err(format!("{len} bytes arrived, the hub announced {}", remote.size));
    }
    if is_sha256(&remote.etag) {
        let got = crate::sys::fs::file_sha256(part).map_err(|e| e.to_string())?;
        if !got.eq_ignore_ascii_case(&remote.etag) {
            return Err(format!("its SHA-256 is {got}, the hub names it {}", remote.etag));
        }
    }
    Ok(())
}

/// Whether a hub etag is a SHA-256 (an LFS file's) that the bytes can be checked against.
fn is_sha256(etag: &str) -> bool {
    etag.len() == 64 && etag.chars().all(|c| c.is_ascii_hexdigit())
}

#[cfg(unix)]
fn link(target: &Path, at: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(target, at)
}

/// Where symlinks need privileges, the snapshot entry is a copy of the blob (as hf-hub does).
#[cfg(not(unix))]
fn link(target: &Path, at: &Path) -> std::io::Result<()> {
    let blob = at.parent().map(|p| p.join(target)).unwrap_or_else(|| target.to_path_buf());
    std::fs::copy(blob, at).map(|_| ())
}
