//! The first minute of a new user: the real hub download path (the lab's `Hub`), against a
//! stand-in hub on 127.0.0.1 serving the real parquet files, starting from an empty cache —
//! and what happens when the connection drops, the bytes are corrupt, the server errs, never
//! answers, or redirects.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use alexnet_lab::data::{load_parquet, Hub, HUB_FILES};
use common::hub_server::{self, Fault, COMMIT};

fn hub(endpoint: &str, cache: &Path) -> Hub {
    Hub { endpoint: endpoint.into(), cache: cache.into(), offline: false, timeout: Duration::from_secs(2), progress: false }
}

fn empty_cache(name: &str) -> common::Scratch {
    let d = common::tmpdir(&format!("hub-{name}"));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn repo_dir(cache: &Path) -> PathBuf {
    cache.join("datasets--zalando-datasets--fashion_mnist")
}

/// Every file under `dir`, relative, sorted.
fn tree(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, d: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() && !p.is_symlink() {
                walk(root, &p, out);
            } else {
                out.push(p.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    let mut out = vec![];
    walk(dir, dir, &mut out);
    out.sort();
    out
}

#[test]
fn first_use_downloads_into_the_hub_layout_then_works_offline() {
    let files = hub_server::real_files();
    let server = hub_server::start(files.clone(), Fault::CdnRedirect);
    let cache = empty_cache("first");
    let h = hub(&server.endpoint, &cache);
    let paths = h.fetch(&HUB_FILES).unwrap();

    // huggingface_hub's layout: blobs named by the etag (the SHA-256), relative symlinks in
    // snapshots/<commit>/, refs/main naming the commit.
    let repo = repo_dir(&cache);
    let shas: Vec<String> = files.iter().map(|(_, b)| hub_server::sha256_hex(b)).collect();
    let mut expected: Vec<String> = shas.iter().map(|s| format!("blobs/{s}")).collect();
    expected.push("refs/main".into());
    expected.extend(HUB_FILES.iter().map(|f| format!("snapshots/{COMMIT}/{f}")));
    expected.sort();
    assert_eq!(tree(&repo), expected);
    assert_eq!(std::fs::read_to_string(repo.join("refs/main")).unwrap(), COMMIT);
    for ((f, bytes), sha) in files.iter().zip(&shas) {
        let link = repo.join("snapshots").join(COMMIT).join(f);
        assert_eq!(std::fs::read_link(&link).unwrap(), PathBuf::from(format!("../../../blobs/{sha}")));
        assert_eq!(&std::fs::read(&link).unwrap(), bytes);
    }
    assert_eq!(paths[1], repo.join("snapshots").join(COMMIT).join(HUB_FILES[1]));
    assert_eq!(load_parquet(&paths[1]).unwrap().len(), 10_000);
    let requests = server.log.lock().unwrap().clone();
    assert!(requests.iter().any(|r| r.starts_with("GET /cdn/")), "the bytes came through the redirect: {requests:?}");

    // A second run offline, the server gone: the cache is enough.
    drop(server);
    let offline = Hub { offline: true, endpoint: "http://127.0.0.1:9".into(), ..h };
    assert_eq!(offline.fetch(&HUB_FILES).unwrap(), paths);
}

#[test]
fn a_dropped_connection_keeps_the_part_and_the_next_run_continues_it() {
    let files = vec![hub_server::real_files().swap_remove(1)];
    let size = files[0].1.len() as u64;
    let server = hub_server::start(files.clone(), Fault::DropHalfway(1));
    let cache = empty_cache("drop");
    let h = hub(&server.endpoint, &cache);
    let e = h.fetch(&HUB_FILES[1..]).unwrap_err().to_string();
    assert!(e.contains(HUB_FILES[1]) && e.contains("broke off") && e.contains("run the same command again"), "{e}");
    // Nothing is taken for the file: no blob, no snapshot entry; only the part.
    assert!(h.cached(HUB_FILES[1]).is_none());
    let sha = hub_server::sha256_hex(&files[0].1);
    let part = repo_dir(&cache).join("blobs").join(format!("{sha}.incomplete"));
    let kept = std::fs::metadata(&part).unwrap().len();
    assert!(kept > 0 && kept < size, "{kept} of {size}");
    assert_eq!(tree(&repo_dir(&cache)), [format!("blobs/{sha}.incomplete")]);

    // The next run asks for the rest only and completes the file.
    let p = h.fetch(&HUB_FILES[1..]).unwrap();
    assert_eq!(std::fs::read(&p[0]).unwrap(), files[0].1);
    assert!(!part.exists());
    let log = server.log.lock().unwrap().clone();
    assert!(log.last().unwrap().contains(&format!("range=Some(({kept}, None))")), "{log:?}");
}

#[test]
fn corrupt_bytes_are_caught_by_the_sha256_and_nothing_is_kept() {
    let files = vec![hub_server::real_files().swap_remove(1)];
    let server = hub_server::start(files.clone(), Fault::Corrupt);
    let cache = empty_cache("corrupt");
    let h = hub(&server.endpoint, &cache);
    let e = h.fetch(&HUB_FILES[1..]).unwrap_err().to_string();
    assert!(e.contains(HUB_FILES[1]) && e.contains("is corrupt") && e.contains("SHA-256"), "{e}");
    assert!(e.contains(&hub_server::sha256_hex(&files[0].1)), "names the expected hash: {e}");
    assert!(tree(&repo_dir(&cache)).is_empty(), "{:?}", tree(&repo_dir(&cache)));
    assert!(h.cached(HUB_FILES[1]).is_none());
}

#[test]
fn server_errors_are_clear_and_bounded() {
    let files = vec![hub_server::real_files().swap_remove(1)];
    for (fault, needles) in [
        (Fault::NotFound, vec!["HTTP 404", "no such file"]),
        (Fault::ServerError, vec!["HTTP 500", "try again later"]),
        (Fault::RedirectLoop, vec!["more than 5 redirects"]),
        (Fault::Hang, vec!["did not answer within 2 s"]),
    ] {
        let server = hub_server::start(files.clone(), fault);
        let cache = empty_cache("errors");
        let t = Instant::now();
        let e = hub(&server.endpoint, &cache).fetch(&HUB_FILES[1..]).unwrap_err().to_string();
        assert!(t.elapsed() < Duration::from_secs(20), "{fault:?} took {:?}", t.elapsed());
        assert!(e.contains(&server.endpoint) && e.contains(HUB_FILES[1]), "{fault:?}: {e}");
        for n in needles {
            assert!(e.contains(n), "{fault:?}: {e}");
        }
        assert!(tree(&repo_dir(&cache)).iter().all(|f| f.ends_with(".incomplete") || f.is_empty()), "{fault:?}");
    }
    // Nobody listening at all.
    let cache = empty_cache("refused");
    let e = hub("http://127.0.0.1:9", &cache).fetch(&HUB_FILES[1..]).unwrap_err().to_string();
    assert!(e.contains("cannot reach http://127.0.0.1:9/") && e.contains("Check the network"), "{e}");
}
