//! The first minute and the worst minute, through the `alexnet-lab` binary: the first download
//! from a (stand-in) hub into an empty cache, then offline; `eval` touching only the test
//! split; a job killed before its first save and re-run with the same `--resume` command line;
//! Ctrl-C during training; a full disk during a save.

#[path = "../alexnet_lab/tests/common/scratch.rs"]
mod scratch;
use scratch::Scratch;

#[path = "../alexnet_lab/tests/common/hub_server.rs"]
mod hub_server;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use alexnet_lab::candle::Device;
use alexnet_lab::train::checkpoint;

fn tmp(name: &str) -> Scratch {
    Scratch::new(&format!("first-{name}"))
}

fn idx_dir() -> PathBuf {
    let d = std::env::var_os("FASHION_MNIST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/fashion-mnist"));
    assert!(d.is_dir(), "no IDX directory {}: set FASHION_MNIST_DIR", d.display());
    d
}

/// The binary with a clean hub environment plus `env`.
fn lab(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_alexnet-lab"));
    c.args(args).env_remove("HF_HOME").env_remove("HF_HUB_OFFLINE").env_remove("HF_ENDPOINT");
    for (k, v) in env {
        c.env(k, v);
    }
    c
}

fn text(o: &Output) -> (String, String) {
    (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

#[test]
fn first_use_downloads_with_progress_then_works_offline_and_eval_reads_only_the_test_split() {
    let server = hub_server::start(hub_server::real_files(), hub_server::Fault::CdnRedirect);
    let home = tmp("download");
    let hf = home.to_str().unwrap();
    let online = [("HF_HOME", hf), ("HF_ENDPOINT", server.endpoint.as_str())];

    // eval on a machine without the cache: only the test file is fetched.
    let run = home.join("run");
    let (_net, varmap) = alexnet_lab::ModelKind::AlexNet.init(Some([1, 67, 67]), 0, &Device::Cpu).unwrap();
    let meta = checkpoint::CheckpointMeta::new(alexnet_lab::train::TrainConfig::smoke(), Default::default(), fashion_names(), false);
    checkpoint::save(&run, &varmap, &Default::default(), &meta).unwrap();
    let o = lab(&["eval", "--checkpoint", run.to_str().unwrap(), "--limit", "100", "--device", "cpu"], &online).output().unwrap();
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(out.contains("(100 examples"), "{out}");
    assert!(err.contains("downloading zalando-datasets/fashion_mnist/fashion_mnist/test-00000-of-00001.parquet (4.9 MB)"), "{err}");
    let log = server.log.lock().unwrap().clone();
    assert!(!log.iter().any(|r| r.contains("train-")) && !err.contains("train-"), "eval touched the training split: {log:?}");

    // data info needs both: the train file is downloaded now, the test file comes from the cache.
    let o = lab(&["data", "info"], &online).output().unwrap();
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(out.contains("train: 60000 images, test: 10000 images"), "{out}");
    assert!(err.contains("downloading zalando-datasets/fashion_mnist/fashion_mnist/train-00000-of-00001.parquet (29.1 MB)"), "{err}");
    assert!(!err.contains("test-00000"), "the test file was cached: {err}");

    // Offline, the server gone: the cache is enough.
    drop(server);
    let o = lab(&["data", "info"], &[("HF_HOME", hf), ("HF_HUB_OFFLINE", "1")]).output().unwrap();
    assert!(o.status.success() && text(&o).0.contains("train: 60000 images"), "{}", text(&o).1);
}

/// Fashion-MNIST's class names, as a checkpoint records them.
fn fashion_names() -> Vec<String> {
    alexnet_lab::data::CLASS_NAMES.map(String::from).to_vec()
}

#[test]
fn download_faults_through_the_cli_are_errors_naming_endpoint_file_and_fix() {
    let test_only = vec![hub_server::real_files().swap_remove(1)];
    let home = tmp("faults");
    let run = home.join("run");
    let (_net, varmap) = alexnet_lab::ModelKind::LeNet.init(None, 0, &Device::Cpu).unwrap();
    let meta = checkpoint::CheckpointMeta::new(
        alexnet_lab::train::TrainConfig { model: alexnet_lab::ModelKind::LeNet, image_size: 28, ..alexnet_lab::train::TrainConfig::smoke() },
        Default::default(),
        fashion_names(),
        false,
    );
    checkpoint::save(&run, &varmap, &Default::default(), &meta).unwrap();
    for (fault, needle) in [
        (hub_server::Fault::DropHalfway(1), "broke off"),
        (hub_server::Fault::Corrupt, "is corrupt"),
        (hub_server::Fault::ServerError, "HTTP 500"),
        (hub_server::Fault::Hang, "did not answer within 1 s"),
    ] {
        let server = hub_server::start(test_only.clone(), fault);
        let cache = home.join(format!("{fault:?}"));
        let env = [("HF_HOME", cache.to_str().unwrap()), ("HF_ENDPOINT", server.endpoint.as_str()), ("ALEXNET_LAB_HUB_TIMEOUT", "1")];
        let t = Instant::now();
        let o = lab(&["eval", "--checkpoint", run.to_str().unwrap(), "--device", "cpu"], &env).output().unwrap();
        let err = text(&o).1;
        assert_eq!(o.status.code(), Some(1), "{fault:?}: {err}");
        // A hanging server holds the connection for 300 s: the bound only tells a working
        // timeout (1 s) from none, on a machine of any speed.
        assert!(t.elapsed() < Duration::from_secs(120), "{fault:?} took {:?}", t.elapsed());
        assert!(err.contains(needle) && err.contains(&server.endpoint) && err.contains("test-00000-of-00001.parquet"), "{fault:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        // A dropped connection: the next run of the same command completes the download.
        if fault == hub_server::Fault::DropHalfway(1) {
            let o = lab(&["eval", "--checkpoint", run.to_str().unwrap(), "--limit", "10", "--device", "cpu"], &env).output().unwrap();
            let (out, err) = text(&o);
            assert!(o.status.success() && out.contains("(10 examples") && err.contains("continuing at"), "{out}{err}");
        }
    }
    // An etag that is not a SHA-256: downloaded, and the user is told the bytes were checked by
    // their size only.
    let server = hub_server::start(test_only.clone(), hub_server::Fault::GitEtag);
    let cache = home.join("git-etag");
    let env = [("HF_HOME", cache.to_str().unwrap()), ("HF_ENDPOINT", server.endpoint.as_str())];
    let o = lab(&["eval", "--checkpoint", run.to_str().unwrap(), "--limit", "10", "--device", "cpu"], &env).output().unwrap();
    let (out, err) = text(&o);
    assert!(o.status.success() && out.contains("(10 examples"), "{out}{err}");
    assert!(err.contains("its etag `0123456789abcdef0123456789abcdef01234567` is not a SHA-256, so the bytes are checked by their size only"), "{err}");
}

/// A smoke run of AlexNet at 67x67 on a slice of the IDX files.
fn train(out: &Path, extra: &[&str]) -> Command {
    let mut args = vec!["train", "--profile", "smoke", "--test-limit", "32", "--device", "cpu", "--quiet"];
    args.extend_from_slice(extra);
    let mut c = lab(&args, &[]);
    c.arg("--data-dir").arg(idx_dir()).arg("--out").arg(out);
    c
}

#[test]
fn a_job_killed_before_its_first_save_runs_again_with_the_same_command() {
    let out = tmp("requeue");
    let same = ["--epochs", "1", "--limit", "768", "--resume"];
    // Killed while it waits before its first step (data loaded, model built; sys::failpoint):
    // nothing committed yet, on a machine of any speed.
    let mut child = train(&out, &same).env("ALEXNET_LAB_FAILPOINT", "hold:start-epoch-1").stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let (rx, reader) = lines_of(&mut child);
    wait_for(&rx, "failpoint: holding at start-epoch-1");
    child.kill().unwrap();
    child.wait().unwrap();
    let _ = reader.join();
    assert!(!out.join(checkpoint::META_FILE).exists(), "the kill came too late for this test");
    let o = train(&out, &same).output().unwrap();
    let (stdout, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(stdout.lines().next().unwrap_or("").starts_with("no checkpoint in") && stdout.contains("starting a new run"), "{stdout}");
    assert_eq!(checkpoint::read_meta(&out).unwrap().1.epoch(), 1);
    // And the same command once more: continues (nothing left to do), no error.
    let o = train(&out, &same).output().unwrap();
    assert!(o.status.success() && text(&o).0.contains("already done 1 of 1 epochs"), "{}{}", text(&o).0, text(&o).1);
}

#[cfg(unix)]
#[test]
fn ctrl_c_stops_at_a_step_boundary_keeps_the_checkpoint_and_says_how_to_continue() {
    let out = tmp("sigint");
    // The signal comes while the run waits after the first step of epoch 2 (sys::failpoint), so
    // epoch 1's checkpoint is committed and the run is not over, on a machine of any speed.
    let mut child = train(&out, &["--epochs", "4", "--limit", "256"])
        .env("ALEXNET_LAB_FAILPOINT", "hold:after-step-2-1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (rx, reader) = lines_of(&mut child);
    wait_for(&rx, "failpoint: holding at after-step-2-1");
    assert_eq!(checkpoint::read_meta(&out).unwrap().1.epoch(), 1);
    sigint(&child);
    let o = child.wait_with_output().unwrap();
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(130), "{err}");
    assert!(err.contains("interrupted (Ctrl-C) in epoch") && err.contains("is complete and kept"), "{err}");
    let cmd = err.lines().skip_while(|l| !l.starts_with("Continue with:")).nth(1).unwrap_or("").trim().to_string();
    assert!(cmd.contains(" train ") && cmd.contains("--epochs 4") && cmd.ends_with("--resume"), "{cmd}");
    let _ = reader.join();
    let (_, meta) = checkpoint::read_meta(&out).unwrap();
    assert_eq!(meta.epoch(), 1);
    checkpoint::load_model(&out, &Device::Cpu).unwrap();
    // The printed command continues the run to the end.
    let o = Command::new("sh").arg("-c").arg(&cmd).env_remove("HF_HOME").output().unwrap();
    let (stdout, err) = text(&o);
    assert!(o.status.success() && stdout.contains(&format!("after epoch {}", meta.epoch())), "{stdout}{err}");
    assert_eq!(checkpoint::read_meta(&out).unwrap().1.epoch(), 4);
}

/// A disk that fills up during a save, simulated with a file-size limit (`RLIMIT_FSIZE`, with
/// `SIGXFSZ` ignored so that the write fails with EFBIG instead of killing the process).
#[cfg(unix)]
#[test]
fn a_full_disk_during_a_save_is_a_clear_error_and_the_last_checkpoint_stays_loadable() {
    use std::os::unix::process::CommandExt;
    let out = tmp("fulldisk");
    let o = train(&out, &["--epochs", "1", "--limit", "64"]).output().unwrap();
    assert!(o.status.success(), "{}", text(&o).1);
    let before = std::fs::read(out.join(checkpoint::META_FILE)).unwrap();
    let mut c = train(&out, &["--epochs", "2", "--limit", "64", "--resume"]);
    // SAFETY: setrlimit and signal are async-signal-safe; nothing else runs in the child.
    unsafe {
        c.pre_exec(|| {
            let lim = libc::rlimit { rlim_cur: 8 << 20, rlim_max: 8 << 20 };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            Ok(())
        });
    }
    let o = c.output().unwrap();
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("weights-epoch-0002.safetensors.tmp") && err.contains("File too large"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(std::fs::read(out.join(checkpoint::META_FILE)).unwrap(), before, "checkpoint.json untouched");
    let (net, _, meta) = checkpoint::load_model(&out, &Device::Cpu).unwrap();
    assert_eq!((meta.epoch(), net.num_classes()), (1, 10));
    let leftovers: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp") || n.contains("epoch-0002"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// A training run over the IDX files with stdout piped (its step lines), for the Ctrl-C tests,
/// held at the failpoint `hold` (sys::failpoint: the test acts when the run is there, not after a
/// guessed time).
fn train_piped(out: &Path, args: &[&str], hold: &str) -> std::process::Child {
    let mut all = vec!["train", "--profile", "smoke", "--device", "cpu", "--quiet"];
    all.extend_from_slice(args);
    let mut c = lab(&all, &[("ALEXNET_LAB_FAILPOINT", hold)]);
    c.arg("--data-dir").arg(idx_dir()).arg("--out").arg(out);
    c.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
}

/// Reads `child`'s stdout on a thread: each line is sent as it comes; the whole text is the
/// thread's result.
fn lines_of(child: &mut std::process::Child) -> (std::sync::mpsc::Receiver<String>, std::thread::JoinHandle<String>) {
    use std::io::BufRead;
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let t = std::thread::spawn(move || {
        let mut all = String::new();
        for line in std::io::BufReader::new(stdout).lines().map_while(|l| l.ok()) {
            let _ = tx.send(line.clone());
            all += &line;
            all.push('\n');
        }
        all
    });
    (rx, t)
}

fn sigint(child: &std::process::Child) {
    // SAFETY: sending a signal to our own child process.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
}

/// `interrupted in epoch E after S steps` from the CLI's message.
fn interrupted_at(err: &str) -> (usize, usize) {
    let rest = err.split("interrupted (Ctrl-C) in epoch ").nth(1).unwrap_or_else(|| panic!("no interruption line: {err}"));
    let nums: Vec<usize> = rest.split(|c: char| !c.is_ascii_digit()).filter(|s| !s.is_empty()).take(2).map(|s| s.parse().unwrap()).collect();
    (nums[0], nums[1])
}

/// Waits for the line that starts with `prefix` (the failpoint's hold lines), failing on a
/// run that ended without it.
fn wait_for(rx: &std::sync::mpsc::Receiver<String>, prefix: &str) {
    loop {
        match rx.recv_timeout(Duration::from_secs(300)) {
            Ok(line) if line.starts_with(prefix) => return,
            Ok(_) => {}
            Err(e) => panic!("no line `{prefix}` from the run ({e})"),
        }
    }
}

#[cfg(unix)]
#[test]
fn ctrl_c_lands_within_a_step_also_in_the_last_evaluation_and_before_the_first_save() {
    // Mid-epoch: the signal comes while the run waits after step 5; it stops before step 6.
    let out = tmp("sigint-step");
    let mut child = train_piped(&out, &["--epochs", "1", "--limit", "2048", "--test-limit", "32"], "hold:after-step-1-5");
    let (rx, reader) = lines_of(&mut child);
    wait_for(&rx, "failpoint: holding at after-step-1-5");
    sigint(&child);
    let o = child.wait_with_output().unwrap();
    let _ = reader.join();
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(130), "{err}");
    assert_eq!(interrupted_at(&err), (1, 5), "{err}");
    assert!(err.contains("No epoch was complete, so nothing was saved"), "{err}");

    // In the last epoch's evaluation (two steps, then 10,000 test images): before, the request
    // was never looked at again and the run exited 0. Now the epoch is saved and it exits 130.
    // The signal comes while the run waits between its last step and the test pass.
    let out = tmp("sigint-eval");
    let mut child = train_piped(&out, &["--epochs", "1", "--limit", "64", "--test-limit", "10000"], "hold:evaluate-epoch-1");
    let (rx, reader) = lines_of(&mut child);
    wait_for(&rx, "failpoint: holding at evaluate-epoch-1");
    assert!(!out.join(checkpoint::META_FILE).exists(), "saved before its evaluation");
    sigint(&child);
    let o = child.wait_with_output().unwrap();
    let _ = reader.join();
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(130), "{err}");
    assert!(err.contains("The checkpoint of epoch 1") && err.contains("is complete and kept"), "{err}");
    assert_eq!(checkpoint::read_meta(&out).unwrap().1.epoch(), 1);

    // A second Ctrl-C ends the process at once: the run still waits where the first one found it
    // (hold-past-stop), so only the second can end it before the evaluation and the save.
    let out = tmp("sigint-twice");
    let mut child = train_piped(&out, &["--epochs", "1", "--limit", "64", "--test-limit", "10000"], "hold-past-stop:evaluate-epoch-1");
    let (rx, reader) = lines_of(&mut child);
    wait_for(&rx, "failpoint: holding at evaluate-epoch-1");
    sigint(&child);
    wait_for(&rx, "failpoint: stop requested, still holding");
    sigint(&child);
    let t0 = Instant::now();
    let o = child.wait_with_output().unwrap();
    let _ = reader.join();
    assert_eq!(o.status.code(), Some(130), "{}", text(&o).1);
    // Without the second Ctrl-C it would wait for the failpoint's limit (10 minutes).
    assert!(t0.elapsed() < Duration::from_secs(120), "took {:?} after the second Ctrl-C", t0.elapsed());
    assert!(!out.join(checkpoint::META_FILE).exists(), "ended before the save");

    // Before the first step (data loaded, model built): stops at step 0, nothing saved, exit 130.
    let out = tmp("sigint-early");
    let mut child = train_piped(&out, &["--epochs", "1", "--limit", "64", "--test-limit", "32"], "hold:start-epoch-1");
    let (rx, reader) = lines_of(&mut child);
    wait_for(&rx, "failpoint: holding at start-epoch-1");
    sigint(&child);
    let o = child.wait_with_output().unwrap();
    let _ = reader.join();
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(130), "{err}");
    assert!(err.contains("after 0 steps") && err.contains("nothing was saved"), "{err}");
}
