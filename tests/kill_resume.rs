//! Process faults: `kill -9` a training run at random instants, again and again, resuming each
//! time. After every kill the run folder must hold a loadable checkpoint of a complete epoch
//! (or none yet), metrics files that parse, and a history that never loses or rewrites an
//! epoch; every resume must start right after the epoch the checkpoint names; the last run
//! finishes all epochs.

#[path = "../alexnet_lab/tests/common/scratch.rs"]
mod scratch;
use scratch::Scratch;

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use alexnet_lab::candle::Device;
use alexnet_lab::train::checkpoint;
use alexnet_lab::train::EpochMetrics;

const EPOCHS: usize = 6;

fn idx_dir() -> PathBuf {
    let d = std::env::var_os("FASHION_MNIST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/fashion-mnist"));
    assert!(d.is_dir(), "no IDX directory {}: set FASHION_MNIST_DIR", d.display());
    d
}

/// The smoke profile's AlexNet (67x67, ~21.6M parameters, so a checkpoint is ~170 MB of
/// weights + momentum and a save takes long enough for kills to land inside it) on a slice.
fn train(out: &Path, resume: bool) -> Command {
    train_epochs(out, resume, EPOCHS)
}

fn train_epochs(out: &Path, resume: bool, epochs: usize) -> Command {
    train_limit(out, resume, epochs, 64)
}

fn train_limit(out: &Path, resume: bool, epochs: usize, limit: usize) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_alexnet-lab"));
    c.args(["train", "--profile", "smoke", "--epochs", &epochs.to_string(), "--limit", &limit.to_string(), "--test-limit", "32"])
        .args(["--batch-size", "32", "--device", "cpu", "--quiet", "--data-dir"])
        .arg(idx_dir())
        .arg("--out")
        .arg(out);
    if resume {
        c.arg("--resume");
    }
    c.stdout(Stdio::piped()).stderr(Stdio::piped());
    c
}

/// What a killed run left: the checkpoint's epochs (checked loadable), or `None` if no
/// checkpoint was committed yet.
fn check_folder(out: &Path) -> Option<Vec<EpochMetrics>> {
    if !out.join(checkpoint::META_FILE).exists() {
        assert!(!out.join("metrics.csv").exists(), "metrics without a checkpoint");
        return None;
    }
    let (_, meta) = checkpoint::read_meta(out).expect("checkpoint.json always parses");
    // The tensor files on disk are the ones this JSON committed (their SHA-256 recorded at the
    // save), not a later epoch's written under the same name.
    let sha = meta.weights_sha256.as_deref().expect("checkpoint.json records the weights' SHA-256");
    assert_eq!(alexnet_lab::sys::file_sha256(&out.join(&meta.weights)).unwrap(), sha, "weights file of epoch {}", meta.epoch());
    let opt_sha = meta.optimizer_sha256.as_deref().expect("checkpoint.json records the optimizer's SHA-256");
    assert_eq!(alexnet_lab::sys::file_sha256(&out.join(meta.optimizer.as_deref().unwrap())).unwrap(), opt_sha);
    let epochs: Vec<usize> = meta.history.epochs.iter().map(|e| e.epoch).collect();
    assert_eq!(epochs, (1..=meta.epoch()).collect::<Vec<_>>(), "the checkpoint names complete epochs 1..=n");
    let (net, varmap, _) = checkpoint::load_model(out, &Device::Cpu).expect("the committed checkpoint loads");
    assert_eq!(net.num_classes(), 10);
    let sum: f32 = varmap.all_vars().iter().map(|v| v.as_tensor().abs().unwrap().sum_all().unwrap().to_scalar::<f32>().unwrap()).sum();
    assert!(sum.is_finite() && sum > 0.0, "weights are finite and not zero");
    let opt = checkpoint::load_optimizer(out, &meta, &Device::Cpu).expect("optimizer state loads");
    assert_eq!(opt.len(), varmap.all_vars().len(), "one momentum buffer per parameter");
    // The metrics files are replaced atomically after the commit: whole, and at most one epoch behind.
    let rows = match out.join("metrics.csv").exists() {
        true => alexnet_lab::report::table::read_csv(out.join("metrics.csv")).expect("metrics.csv parses").height(),
        false => 0,
    };
    assert!(rows == meta.epoch() || rows + 1 == meta.epoch(), "{rows} metrics rows for epoch {}", meta.epoch());
    if out.join("curve.csv").exists() {
        alexnet_lab::report::table::read_csv(out.join("curve.csv")).expect("curve.csv parses");
    }
    Some(meta.history.epochs)
}

/// The files a run folder may hold for good: the checkpoint, the run files, the lock, and the
/// epoch-named tensor files.
fn known_name(name: &str) -> bool {
    let epoch_file = |prefix: &str| {
        name.strip_prefix(prefix).and_then(|r| r.strip_suffix(".safetensors")).is_some_and(|r| {
            let (epoch, suffix) = r.split_once('.').unwrap_or((r, "0"));
            epoch.len() == 4 && epoch.parse::<usize>().is_ok() && suffix.parse::<usize>().is_ok()
        })
    };
    ["checkpoint.json", "metrics.csv", "curve.csv", "curve.svg", ".lock"].contains(&name)
        || epoch_file("weights-epoch-")
        || epoch_file("optimizer-epoch-")
}

/// What in `out` should not be there: a name no run writes, or (when `started` is given: the
/// run got past its start, where it removes them) a half-written file older than that run, left
/// by an earlier kill.
fn strays(out: &Path, started: Option<std::time::SystemTime>) -> Vec<String> {
    let mut bad = vec![];
    for e in std::fs::read_dir(out).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let old = started.is_some_and(|s| e.metadata().and_then(|m| m.modified()).is_ok_and(|t| t < s));
        let fresh_leftover = checkpoint::is_interrupted_write(&name) && !old;
        if !(known_name(&name) || fresh_leftover) {
            bad.push(name);
        }
    }
    bad
}

/// When a kill comes.
#[derive(Debug, Clone, Copy)]
enum When {
    /// When the run waits at the failpoint `spec` (sys::failpoint: `hold-write:<file>` inside a
    /// save before its commit, `hold:<point>` at a point of the training loop): a kill that lands
    /// there on any machine, however fast.
    Held(&'static str),
    /// `ms` after the start (loading data, building the model, or the first steps).
    StartUp(u64),
    /// `ms` after a temporary tensor file of the `n`-th save of this run appears in the run
    /// folder: inside that save, before its commit (a save of ~170 MB takes far longer than the
    /// delays drawn).
    InSave(usize, u64),
    /// `ms` after the `n`-th epoch line of this run (in the save, or in the next epoch).
    AfterEpochLine(usize, u64),
}

/// Starts a run and SIGKILLs it at `when`. Returns its stdout, or `None` if it finished first.
/// A run that exits by itself with an error fails the test: only a kill may stop it.
fn run_and_kill(out: &Path, resume: bool, when: When) -> Option<String> {
    use std::os::unix::process::ExitStatusExt;
    let mut cmd = train(out, resume);
    if let When::Held(spec) = when {
        cmd.env("ALEXNET_LAB_FAILPOINT", spec);
    }
    let mut child = cmd.spawn().expect("start alexnet-lab train");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in std::io::BufReader::new(stdout).lines().map_while(|l| l.ok()) {
            let _ = tx.send(line.clone());
            all += &line;
            all.push('\n');
        }
        all
    });
    let t0 = std::time::Instant::now();
    // A temporary tensor file written since `since` (not a leftover of an earlier kill).
    let tmp_file = |since: std::time::SystemTime| {
        std::fs::read_dir(out).into_iter().flatten().flatten().any(|e| {
            e.file_name().to_string_lossy().ends_with(".safetensors.tmp")
                && e.metadata().and_then(|m| m.modified()).is_ok_and(|t| t >= since)
        })
    };
    // The epoch line is printed just before that epoch's save.
    let epoch_lines = |n: usize| {
        let mut seen = 0;
        while seen < n {
            match rx.recv_timeout(Duration::from_secs(120)) {
                Ok(line) if line.starts_with("epoch ") => seen += 1,
                Ok(_) => {}
                Err(_) => break,
            }
        }
    };
    match when {
        When::Held(spec) => loop {
            match rx.recv_timeout(Duration::from_secs(300)) {
                Ok(line) if line.starts_with("failpoint: holding") => break,
                Ok(_) => {}
                Err(e) => panic!("the run never reached the failpoint {spec} ({e})"),
            }
        },
        When::StartUp(ms) => std::thread::sleep(Duration::from_millis(ms)),
        When::InSave(n, ms) => {
            epoch_lines(n);
            let since = std::time::SystemTime::now() - Duration::from_millis(50);
            while !tmp_file(since) && child.try_wait().unwrap().is_none() && t0.elapsed() < Duration::from_secs(120) {
                std::thread::sleep(Duration::from_millis(1));
            }
            std::thread::sleep(Duration::from_millis(ms));
        }
        When::AfterEpochLine(n, ms) => {
            epoch_lines(n);
            std::thread::sleep(Duration::from_millis(ms));
        }
    }
    let finished = child.try_wait().unwrap();
    child.kill().ok(); // SIGKILL on Unix
    let status = child.wait().unwrap();
    let text = reader.join().unwrap();
    match finished {
        Some(s) if s.success() => None,
        Some(s) => panic!("the run stopped by itself with {s} before the kill:\n{text}"),
        // It finished between the check and the kill (a fast machine, a kill late in the last epoch).
        None if status.success() => None,
        None => {
            assert_eq!(status.signal(), Some(libc::SIGKILL), "{status}");
            Some(text)
        }
    }
}

#[test]
fn kill_9_at_random_points_never_loses_a_complete_epoch() {
    let out = Scratch::new("kill");
    let _ = std::fs::remove_dir_all(&out);
    // A new kill plan every run; ALEXNET_LAB_KILL_SEED=<seed> repeats one.
    let seed = std::env::var("ALEXNET_LAB_KILL_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64)
    });
    eprintln!("kill plan seed {seed} (ALEXNET_LAB_KILL_SEED={seed} repeats it)");
    let mut state = seed;
    let mut next = |n: u64| {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (state >> 33) % n
    };
    let mut kept: Vec<EpochMetrics> = vec![];
    let (mut kills, mut mid_write) = (0, 0);
    for attempt in 0..10 {
        let resume = out.join(checkpoint::META_FILE).exists();
        let before = kept.len();
        // The first four at failpoints, so that they land on any machine: inside the second save of
        // the run (epoch 2's weights written, not committed), inside the first save of the resumed
        // run (the same file), in start-up (data loaded, before the first step of epoch 2), in
        // the middle of epoch 2. Then at random instants: one in six during start-up, half inside
        // a save, the rest after an epoch line (any of these may also land after the run's end).
        let when = match (attempt, next(6)) {
            (0 | 1, _) => When::Held("hold-write:weights-epoch-0002.safetensors"),
            (2, _) => When::Held("hold:start-epoch-2"),
            (3, _) => When::Held("hold:after-step-2-1"),
            (_, 0) => When::StartUp(next(1500)),
            (_, 1..=3) => When::InSave(1 + next(2) as usize, next(40)),
            _ => When::AfterEpochLine(1 + next(2) as usize, next(1200)),
        };
        let started = std::time::SystemTime::now();
        let Some(stdout) = run_and_kill(&out, resume, when) else {
            // The run finished before its kill: what it committed extends what was kept.
            if let Some(epochs) = check_folder(&out) {
                assert_eq!(&epochs[..before], &kept[..], "attempt {attempt}: earlier epochs were rewritten");
                kept = epochs;
            }
            break;
        };
        kills += 1;
        // Every resume that got as far as reading the checkpoint says where it continues.
        if resume && stdout.contains("training ") {
            assert!(stdout.contains(&format!("after epoch {before}\n")), "attempt {attempt}: resumed wrongly:\n{stdout}");
        }
        let committed = check_folder(&out);
        // Killed inside a save: a temporary file, or tensor files of an epoch the JSON does not name yet.
        let done = committed.as_ref().map_or(0, |e| e.len());
        // Only files this run wrote count (a killed save's leftovers stay until the next commit).
        let names: Vec<String> = std::fs::read_dir(&out).map_or(vec![], |d| {
            d.flatten()
                .filter(|e| e.metadata().and_then(|m| m.modified()).is_ok_and(|t| t >= started))
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        });
        let uncommitted = |n: &String| {
            n.ends_with(".tmp") || n.split("epoch-").nth(1).and_then(|r| r.get(..4)).and_then(|e| e.parse::<usize>().ok()).is_some_and(|e| e > done)
        };
        let inside = names.iter().any(uncommitted);
        // Past its start a run has removed the half-written files of earlier kills; any other
        // name is never there.
        let past_start = ["training ", "resuming", "nothing to train"].iter().any(|l| stdout.contains(l));
        let stray = strays(&out, past_start.then_some(started));
        assert!(stray.is_empty(), "attempt {attempt}: files left in the run folder: {stray:?}");
        mid_write += inside as usize;
        if let Some(epochs) = committed {
            assert!(epochs.len() >= before, "attempt {attempt}: the checkpoint went back from epoch {before} to {}", epochs.len());
            assert_eq!(&epochs[..before], &kept[..], "attempt {attempt}: earlier epochs were rewritten");
            kept = epochs;
        }
        eprintln!("kill {kills} ({when:?}){}: checkpoint at epoch {}", if inside { ", inside a save" } else { "" }, kept.len());
        if kept.len() >= EPOCHS - 1 {
            break;
        }
    }
    assert!(kills >= 4, "only {kills} kills landed: the runs finish too fast for this test (seed {seed})");
    assert!(mid_write >= 2, "only {mid_write} of {kills} kills landed inside a save (seed {seed})");
    assert!(!kept.is_empty(), "no kill came after a committed epoch (seed {seed})");
    eprintln!("{kills} kills, {mid_write} of them inside a save (before its commit)");

    // The last run resumes from what is there and completes.
    let before = kept.len();
    let o = train(&out, out.join(checkpoint::META_FILE).exists()).output().unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}\n{}", stdout, String::from_utf8_lossy(&o.stderr));
    // A run that finished before its kill leaves a finished folder: the same command then trains
    // nothing and says so.
    if before == EPOCHS {
        assert!(stdout.contains(&format!("has already done {EPOCHS} of {EPOCHS} epochs: nothing to train")), "{stdout}");
    } else if before > 0 {
        assert!(stdout.contains(&format!("after epoch {before}\n")), "{stdout}");
    }
    let epochs = check_folder(&out).expect("a finished run has a checkpoint");
    assert_eq!(epochs.len(), EPOCHS);
    assert_eq!(&epochs[..before], &kept[..], "epochs done before the kills are kept as they were");
    assert_eq!(alexnet_lab::report::table::read_csv(out.join("metrics.csv")).unwrap().height(), EPOCHS);
    // Finished: only the checkpoint's own files, nothing half-written, no older epoch.
    let stray = strays(&out, Some(std::time::SystemTime::now()));
    assert!(stray.is_empty(), "files left in the finished run folder: {stray:?}");
    let (_, meta) = checkpoint::read_meta(&out).unwrap();
    let tensors: Vec<String> = std::fs::read_dir(&out).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".safetensors")).collect();
    assert_eq!(tensors.len(), 2, "{tensors:?}");
    assert!(tensors.contains(&meta.weights) && tensors.contains(meta.optimizer.as_ref().unwrap()), "{tensors:?}");
    let _ = std::fs::remove_dir_all(&out);
}

/// A crash in the middle of writing `checkpoint.json` (the failpoint writes half of it, then
/// aborts): the JSON on disk still names the previous complete epoch, because it is written to a
/// temporary name and renamed. Writing it in place would leave half a JSON here.
#[test]
fn a_crash_halfway_through_the_checkpoint_json_keeps_the_previous_one() {
    use std::os::unix::process::ExitStatusExt;
    let out = Scratch::new("json-crash");
    let _ = std::fs::remove_dir_all(&out);
    let o = train_epochs(&out, false, 1).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let before = std::fs::read(out.join(checkpoint::META_FILE)).unwrap();
    let o = train_epochs(&out, true, 2).env("ALEXNET_LAB_FAILPOINT", "write_atomic:checkpoint.json").output().unwrap();
    assert_eq!(o.status.signal(), Some(libc::SIGABRT), "the failpoint did not fire: {}", String::from_utf8_lossy(&o.stderr));
    assert!(std::fs::read(out.join(checkpoint::META_FILE)).unwrap() == before, "checkpoint.json changed");
    assert_eq!(check_folder(&out).unwrap().len(), 1);
    let _ = std::fs::remove_dir_all(&out);
}

/// The gold standard: a run killed in the middle of epoch 2 and resumed ends with exactly the
/// weights, momentum and per-step losses of the same run uninterrupted (checkpoint.json records
/// the SHA-256 of both tensor files).
#[test]
fn a_run_killed_mid_epoch_and_resumed_ends_bit_identical_to_an_uninterrupted_one() {
    let base = Scratch::new("exact");
    let _ = std::fs::remove_dir_all(&base);
    let (whole, cut) = (base.join("whole"), base.join("cut"));
    // With a warm-up and a cosine schedule: the resumed run must also continue the schedule.
    let run = |out: &Path, resume: bool| {
        let mut c = train_limit(out, resume, 3, 320);
        c.args(["--schedule", "cosine", "--warmup-epochs", "0.5"]);
        c
    };
    let o = run(&whole, false).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // Killed in the middle of epoch 2 (after epoch 1's checkpoint is committed): the run waits
    // after step 4 of 10 (sys::failpoint) until the kill.
    let mut child = run(&cut, false).env("ALEXNET_LAB_FAILPOINT", "hold:after-step-2-4").spawn().unwrap();
    let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    assert!(
        stdout.lines().map_while(|l| l.ok()).any(|l| l.starts_with("failpoint: holding at after-step-2-4")),
        "the run ended without reaching step 4 of epoch 2"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    let at = checkpoint::read_meta(&cut).unwrap().1.epoch();
    assert_eq!(at, 1, "killed in epoch 2");
    let o = run(&cut, true).output().unwrap();
    assert!(o.status.success() && String::from_utf8_lossy(&o.stdout).contains(&format!("after epoch {at}")));
    let (a, b) = (checkpoint::read_meta(&whole).unwrap().1, checkpoint::read_meta(&cut).unwrap().1);
    assert_eq!((a.epoch(), b.epoch()), (3, 3));
    assert_eq!(a.weights_sha256, b.weights_sha256, "weights");
    assert_eq!(a.optimizer_sha256, b.optimizer_sha256, "momentum");
    let losses = |m: &checkpoint::CheckpointMeta| m.history.epochs.iter().flat_map(|e| e.step_losses.clone()).collect::<Vec<f64>>();
    assert_eq!(losses(&a), losses(&b));
    let _ = std::fs::remove_dir_all(&base);
}
