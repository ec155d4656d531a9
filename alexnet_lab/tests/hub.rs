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
    Hub { timeout: Duration::from_secs(2), ..Hub::at(endpoint, cache) }
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
        // The server hangs for 300 s: the bound only tells a working timeout (2 s) from none.
        assert!(t.elapsed() < Duration::from_secs(120), "{fault:?} took {:?}", t.elapsed());
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

#[test]
fn a_server_that_stalls_mid_download_is_bounded_and_the_part_is_kept() {
    let files = vec![hub_server::real_files().swap_remove(1)];
    let server = hub_server::start(files.clone(), Fault::StallHalfway);
    let cache = empty_cache("stall");
    let h = hub(&server.endpoint, &cache);
    let t = Instant::now();
    let e = h.fetch(&HUB_FILES[1..]).unwrap_err().to_string();
    // The server stalls for 300 s: the bound only tells a working timeout (2 s) from none.
    assert!(t.elapsed() < Duration::from_secs(120), "took {:?}", t.elapsed());
    assert!(e.contains("broke off") && e.contains("run the same command again to continue"), "{e}");
    let sha = hub_server::sha256_hex(&files[0].1);
    let kept = std::fs::metadata(repo_dir(&cache).join("blobs").join(format!("{sha}.incomplete"))).unwrap().len();
    assert!(kept > 0 && kept < files[0].1.len() as u64, "{kept}");
    // A server that ignores the range of the next request (200, the whole file): the part is
    // started again, not appended to.
    let server = hub_server::start(files.clone(), Fault::IgnoreRange);
    let p = hub(&server.endpoint, &cache).fetch(&HUB_FILES[1..]).unwrap();
    assert_eq!(std::fs::read(&p[0]).unwrap(), files[0].1);
    let log = server.log.lock().unwrap().clone();
    assert!(log.last().unwrap().contains(&format!("range=Some(({kept}, None))")), "it asked for the rest: {log:?}");
}

#[test]
fn a_part_longer_than_the_file_and_bytes_beyond_its_size_do_not_end_in_the_cache() {
    let files = vec![hub_server::real_files().swap_remove(1)];
    let sha = hub_server::sha256_hex(&files[0].1);
    // An `.incomplete` longer than the file (another file's bytes): started again, not
    // appended to (before: the rest was appended after it, and the SHA-256 refused the result).
    let cache = empty_cache("oversized");
    let blobs = repo_dir(&cache).join("blobs");
    std::fs::create_dir_all(&blobs).unwrap();
    std::fs::write(blobs.join(format!("{sha}.incomplete")), vec![7u8; files[0].1.len() + 1000]).unwrap();
    let server = hub_server::start(files.clone(), Fault::None);
    let p = hub(&server.endpoint, &cache).fetch(&HUB_FILES[1..]).unwrap();
    assert_eq!(std::fs::read(&p[0]).unwrap(), files[0].1);
    // A server sending 1 MB more than the size it announced: reading stops at the size.
    let cache = empty_cache("oversend");
    let server = hub_server::start(files.clone(), Fault::Oversend);
    let p = hub(&server.endpoint, &cache).fetch(&HUB_FILES[1..]).unwrap();
    assert_eq!(std::fs::read(&p[0]).unwrap(), files[0].1);
}

#[test]
fn etags_and_refs_that_are_not_plain_names_are_refused() {
    let files = vec![hub_server::real_files().swap_remove(1)];
    // An etag `a/b` would be a path under blobs/.
    let server = hub_server::start(files.clone(), Fault::SlashEtag);
    let cache = empty_cache("slash-etag");
    let e = hub(&server.endpoint, &cache).fetch(&HUB_FILES[1..]).unwrap_err().to_string();
    assert!(e.contains("the etag `a/b` is not a plain name; refusing to use it as a file name"), "{e}");
    assert!(tree(&repo_dir(&cache)).is_empty());
    // An etag that is not a SHA-256 (a git file's): the download is checked by its size only
    // (the CLI says so: tests/first_minute.rs), and kept under that etag.
    let server = hub_server::start(files.clone(), Fault::GitEtag);
    let cache = empty_cache("git-etag");
    let p = hub(&server.endpoint, &cache).fetch(&HUB_FILES[1..]).unwrap();
    assert_eq!(std::fs::read(&p[0]).unwrap(), files[0].1);
    assert!(repo_dir(&cache).join("blobs/0123456789abcdef0123456789abcdef01234567").is_file());
    // refs/main naming an absolute path (hf-hub's cache would join it onto snapshots/ and read
    // that folder as the dataset's): refused, naming the file.
    for bad in ["/etc", "../../../../etc", "531be5e/../.."] {
        std::fs::write(repo_dir(&cache).join("refs/main"), bad).unwrap();
        let e = hub(&server.endpoint, &cache).fetch(&HUB_FILES[1..]).unwrap_err().to_string();
        assert!(e.contains("refs/main holds `") && e.contains("not a commit hash"), "{bad}: {e}");
    }
}

#[test]
fn two_first_runs_downloading_into_one_cache_share_one_download() {
    // Two processes' first run at the same moment (here two threads with their own `Hub`): the
    // second waits for the first's download and reads its blob (before: both appended to one
    // `.incomplete`, and the SHA-256 check threw the mixed bytes away).
    let files = vec![hub_server::real_files().swap_remove(1)];
    let server = hub_server::start(files.clone(), Fault::Slow);
    let cache = empty_cache("two-at-once");
    let runs: Vec<_> = (0..2)
        .map(|_| {
            let h = hub(&server.endpoint, &cache);
            std::thread::spawn(move || h.fetch(&HUB_FILES[1..]))
        })
        .collect();
    for r in runs {
        let p = r.join().unwrap().unwrap();
        assert_eq!(std::fs::read(&p[0]).unwrap(), files[0].1);
    }
    let log = server.log.lock().unwrap().clone();
    let downloads = log.iter().filter(|l| !l.contains("range=Some((0, Some(0)))")).count();
    assert_eq!(downloads, 1, "one download for two runs: {log:?}");
}

/// A made-up image-classification dataset in the hub's parquet form: `per_class` colour photos
/// per class (noise over the class's colour, of growing sizes, PNG), the `datasets` library's
/// schema (`image` = struct{bytes, path}, `label` int64) and, when `named`, its `huggingface`
/// metadata naming the classes.
fn colour_parquet(classes: &[&str], per_class: usize, named: bool) -> Vec<u8> {
    use alexnet_lab::polars::prelude::*;
    let (mut images, mut labels) = (vec![], vec![]);
    let mut state = 11u64;
    for i in 0..per_class {
        for (k, _) in classes.iter().enumerate() {
            let img = image::RgbImage::from_fn(16 + i as u32, 20 + 2 * i as u32, |_, _| {
                let mut p = [0u8; 3];
                for (c, v) in p.iter_mut().enumerate() {
                    state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    *v = ((state >> 33) % 90) as u8 + if c == k % 3 { 150 } else { 0 };
                }
                image::Rgb(p)
            });
            let mut png = std::io::Cursor::new(vec![]);
            img.write_to(&mut png, image::ImageFormat::Png).unwrap();
            images.push(png.into_inner());
            labels.push(k as i64);
        }
    }
    let n = images.len();
    let bytes = Series::new("bytes".into(), images.iter().map(|b| b.as_slice()).collect::<Vec<&[u8]>>());
    let path = Series::new("path".into(), vec![None::<&str>; n]);
    let image = StructChunked::from_series("image".into(), n, [bytes, path].iter()).unwrap().into_series();
    let mut df = DataFrame::new(n, vec![image.into(), Series::new("label".into(), labels).into()]).unwrap();
    let names: Vec<String> = classes.iter().map(|c| format!("\"{c}\"")).collect();
    let meta = format!(
        "{{\"info\": {{\"features\": {{\"image\": {{\"_type\": \"Image\"}}, \"label\": {{\"names\": [{}], \"_type\": \"ClassLabel\"}}}}}}}}",
        names.join(", ")
    );
    let mut out = vec![];
    let kv = named.then(|| KeyValueMetadata::from_static(vec![("huggingface".into(), meta)]));
    ParquetWriter::new(&mut out).with_key_value_metadata(kv).finish(&mut df).unwrap();
    out
}

const COLOURS: [&str; 3] = ["red", "green", "blue"];

fn colour_files() -> Vec<(String, Vec<u8>)> {
    vec![
        ("data/train-00000-of-00002.parquet".into(), colour_parquet(&COLOURS, 6, true)),
        ("data/train-00001-of-00002.parquet".into(), colour_parquet(&COLOURS, 4, true)),
        ("data/test-00000-of-00001.parquet".into(), colour_parquet(&COLOURS, 2, true)),
        ("README.md".into(), b"---\nlicense: cc0\n---\n".to_vec()),
    ]
}

#[test]
fn a_hub_image_dataset_is_listed_downloaded_and_read_with_its_class_names() {
    use alexnet_lab::data::{Dataset, HubImages};
    let server = hub_server::start_repo("lab-tests/colours", colour_files(), Fault::None);
    let cache = empty_cache("colours");
    let h = hub(&server.endpoint, &cache).for_repo("lab-tests/colours").unwrap();
    let (train, test) = HubImages::splits(&h, None).unwrap();
    assert_eq!((train.len(), test.len()), (30, 6), "both training shards, the test file");
    assert_eq!((train.class_names().to_vec(), train.channels()), (vec!["red".to_string(), "green".into(), "blue".into()], 3));
    assert_eq!(train.class_counts().unwrap(), [10, 10, 10]);
    assert_eq!((0..3).map(|i| test.label(i).unwrap()).collect::<Vec<_>>(), [0, 1, 2]);
    // Row 2 of the test file is blue: its blue channel is the brightest.
    let px = test.image(2).unwrap().to_rgb8();
    let mean = |c: usize| px.pixels().map(|p| p.0[c] as f64).sum::<f64>() / px.pixels().len() as f64;
    assert!(mean(2) > mean(0) + 100.0 && mean(2) > mean(1) + 100.0, "{} {} {}", mean(0), mean(1), mean(2));
    // Offline, the server gone: listed and read from the cache.
    drop(server);
    let offline = Hub { offline: true, endpoint: "http://127.0.0.1:9".into(), ..h };
    assert_eq!(HubImages::splits(&offline, Some(1)).unwrap().0.channels(), 1);
    // Bad names are refused before any request.
    assert!(offline.clone().for_repo("../etc").unwrap_err().to_string().contains("ORG/NAME"));
}

#[test]
fn a_hub_image_dataset_without_metadata_numbers_its_classes_and_bad_ones_are_clear_errors() {
    use alexnet_lab::data::{Dataset, HubImages};
    let mut files = colour_files();
    for f in files.iter_mut().filter(|f| f.0.ends_with(".parquet")) {
        f.1 = colour_parquet(&COLOURS, 3, false);
    }
    let server = hub_server::start_repo("lab-tests/plain", files, Fault::None);
    // Each scratch cache is bound for the whole test: dropped at once, it was removed before the
    // download and the files written afterwards stayed behind in the temp dir.
    let plain = empty_cache("plain");
    let h = hub(&server.endpoint, &plain).for_repo("lab-tests/plain").unwrap();
    assert_eq!(HubImages::splits(&h, None).unwrap().0.class_names(), ["0", "1", "2"]);
    // No test split: the error lists the parquet files found.
    let only_train = vec![("train.parquet".to_string(), colour_parquet(&COLOURS, 3, true))];
    let server = hub_server::start_repo("lab-tests/half", only_train, Fault::None);
    let half = empty_cache("half");
    let h = hub(&server.endpoint, &half).for_repo("lab-tests/half").unwrap();
    let e = HubImages::splits(&h, None).unwrap_err().to_string();
    assert!(e.contains("no test split") && e.contains("train.parquet"), "{e}");
    // An unknown dataset: the hub's 404 for its listing.
    let none = empty_cache("none");
    let e = hub(&server.endpoint, &none).for_repo("lab-tests/none").unwrap().list().unwrap_err().to_string();
    assert!(e.contains("HTTP 404") && e.contains("no such dataset"), "{e}");
}

/// Fashion-MNIST is one hub image dataset: read by the general reader, its test file gives the
/// same labels and pixels as the Fashion-MNIST reader, and its class names from its metadata.
#[test]
fn fashion_mnist_read_as_a_hub_image_dataset_is_the_same_data() {
    use alexnet_lab::data::{Dataset, HubImages};
    common::hub_env();
    let path = PathBuf::from(std::env::var_os("HF_HOME").unwrap())
        .join("hub/datasets--zalando-datasets--fashion_mnist/snapshots")
        .join(COMMIT)
        .join(HUB_FILES[1]);
    let general = HubImages::from_parquet(std::slice::from_ref(&path), "fashion_mnist (test)").unwrap();
    let split = load_parquet(&path).unwrap();
    assert_eq!(general.len(), split.len());
    assert_eq!(general.channels(), 1);
    assert_eq!(general.class_names()[0], "T - shirt / top");
    for i in [0, 1, 4321, 9999] {
        assert_eq!(general.label(i).unwrap(), split.label(i).unwrap() as usize);
        assert_eq!(general.image(i).unwrap().to_luma8().into_raw(), split.image(i).unwrap());
    }
}

/// End to end from the command line: `train --hub-dataset` downloads a made-up dataset from the
/// stand-in hub and trains LeNet on it (3 classes, RGB); `eval` and `data info` then work
/// offline from the cache, with the dataset's class names.
#[test]
fn the_cli_trains_and_evaluates_a_hub_image_dataset() {
    let server = hub_server::start_repo("lab-tests/colours", colour_files(), Fault::None);
    let tmp = empty_cache("cli-colours");
    let (hf, run) = (tmp.join("hf"), tmp.join("run"));
    let lab = |args: &[&str], offline: bool| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_alexnet-lab"));
        c.args(args).env("HF_HOME", &hf).env("HF_ENDPOINT", &server.endpoint).env_remove("HF_HUB_OFFLINE");
        if offline {
            c.env("HF_HUB_OFFLINE", "1");
        }
        let o = c.output().unwrap();
        let (out, err) = (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned());
        assert!(o.status.success() && !err.contains("panicked"), "{args:?}:\n{out}{err}");
        out
    };
    let out = lab(&["train", "--model", "lenet", "--epochs", "1", "--batch-size", "10", "--hub-dataset", "lab-tests/colours", "--out", run.to_str().unwrap(), "--quiet"], false);
    assert!(out.contains("hub lab-tests/colours") && out.contains("30 train / 6 test examples"), "{out}");
    let meta: serde_json::Value = serde_json::from_slice(&std::fs::read(run.join("checkpoint.json")).unwrap()).unwrap();
    assert_eq!(meta["class_names"], serde_json::json!(["red", "green", "blue"]));
    assert_eq!(meta["input"], serde_json::json!([3, 28, 28]));
    let out = lab(&["eval", "--checkpoint", run.to_str().unwrap(), "--hub-dataset", "lab-tests/colours"], true);
    assert!(out.contains("(6 examples") && out.contains("green"), "{out}");
    let out = lab(&["data", "info", "--hub-dataset", "lab-tests/colours"], true);
    assert!(out.contains("3 classes, 30 images, RGB") && out.contains("blue"), "{out}");
}
