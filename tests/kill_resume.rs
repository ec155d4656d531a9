//! Process faults: `kill -9` a training run at random instants, again and again, resuming each
//! time. After every kill the run folder must hold a loadable checkpoint of a complete epoch
//! (or none yet), metrics files that parse, and a history that never loses or rewrites an
//! epoch; every resume must start right after the epoch the checkpoint names; the last run
//! finishes all epochs.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use alexnet_lab::candle::Device;
use alexnet_lab::checkpoint;
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
    let mut c = Command::new(env!("CARGO_BIN_EXE_alexnet-lab"));
    c.args(["train", "--profile", "smoke", "--epochs", &EPOCHS.to_string(), "--limit", "64", "--test-limit", "32"])
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
    let epochs: Vec<usize> = meta.history.epochs.iter().map(|e| e.epoch).collect();
    assert_eq!(epochs, (1..=meta.epoch).collect::<Vec<_>>(), "the checkpoint names complete epochs 1..=n");
    let (net, varmap, _) = checkpoint::load_model(out, &Device::Cpu).expect("the committed checkpoint loads");
    assert_eq!(net.num_classes(), 10);
    let sum: f32 = varmap.all_vars().iter().map(|v| v.as_tensor().abs().unwrap().sum_all().unwrap().to_scalar::<f32>().unwrap()).sum();
    assert!(sum.is_finite() && sum > 0.0, "weights are finite and not zero");
    let opt = checkpoint::load_optimizer(out, &meta, &Device::Cpu).expect("optimizer state loads");
    assert_eq!(opt.len(), varmap.all_vars().len(), "one momentum buffer per parameter");
    // The metrics files are replaced atomically after the commit: whole, and at most one epoch behind.
    let rows = match out.join("metrics.csv").exists() {
        true => alexnet_lab::table::read_csv(out.join("metrics.csv")).expect("metrics.csv parses").height(),
        false => 0,
    };
    assert!(rows == meta.epoch || rows + 1 == meta.epoch, "{rows} metrics rows for epoch {}", meta.epoch);
    if out.join("curve.csv").exists() {
        alexnet_lab::table::read_csv(out.join("curve.csv")).expect("curve.csv parses");
    }
    Some(meta.history.epochs)
}

/// Starts a run and kills it `delay` after it printed its `nth` epoch line (`epoch k/6: ...`,
/// printed just before that epoch's checkpoint is saved), so kills land anywhere from inside a
/// save to the middle of the next epoch. Returns its stdout, or `None` if it finished first.
fn run_and_kill(out: &Path, resume: bool, nth: usize, delay: Duration) -> Option<String> {
    let mut child = train(out, resume).spawn().expect("start alexnet-lab train");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in std::io::BufReader::new(stdout).lines().map_while(|l| l.ok()) {
            let _ = tx.send(line.starts_with("epoch "));
            all += &line;
            all.push('\n');
        }
        all
    });
    let mut seen = 0;
    while seen < nth {
        match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(true) => seen += 1,
            Ok(false) => {}
            Err(_) => break, // the run ended (or hung: killed below either way)
        }
    }
    std::thread::sleep(delay);
    let finished = child.try_wait().unwrap().is_some_and(|s| s.success());
    child.kill().ok(); // SIGKILL on Unix
    child.wait().unwrap();
    let text = reader.join().unwrap();
    (!finished).then_some(text)
}

#[test]
fn kill_9_at_random_points_never_loses_a_complete_epoch() {
    let out = std::env::temp_dir().join(format!("alexnet-lab-kill-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    // A fixed LCG: random-looking but reproducible kill points.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = |n: u64| {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (state >> 33) % n
    };
    let mut kept: Vec<EpochMetrics> = vec![];
    let (mut kills, mut mid_write) = (0, 0);
    for attempt in 0..8 {
        let resume = out.join(checkpoint::META_FILE).exists();
        let before = kept.len();
        // Kill during the start-up now and then, otherwise after the 1st or 2nd epoch of this run.
        let nth = if next(5) == 0 { 0 } else { 1 + next(2) as usize };
        // Half of the kills within 400 ms of the epoch line: inside the save (~170 MB) or right after.
        let delay = Duration::from_millis(if next(2) == 0 { next(400) } else { next(1200) });
        let Some(stdout) = run_and_kill(&out, resume, nth, delay) else { break };
        kills += 1;
        if resume && stdout.contains("resuming") {
            assert!(stdout.contains(&format!("after epoch {before}\n")), "attempt {attempt}: resumed wrongly:\n{stdout}");
        }
        let committed = check_folder(&out);
        // Killed inside a save: a temporary file, or tensor files of an epoch the JSON does not name yet.
        let done = committed.as_ref().map_or(0, |e| e.len());
        let names: Vec<String> = std::fs::read_dir(&out).map_or(vec![], |d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect());
        let uncommitted = |n: &String| {
            n.ends_with(".tmp") || n.split("epoch-").nth(1).and_then(|r| r.get(..4)).and_then(|e| e.parse::<usize>().ok()).is_some_and(|e| e > done)
        };
        if names.iter().any(uncommitted) {
            mid_write += 1;
        }
        if let Some(epochs) = committed {
            assert!(epochs.len() >= before, "attempt {attempt}: the checkpoint went back from epoch {before} to {}", epochs.len());
            assert_eq!(&epochs[..before], &kept[..], "attempt {attempt}: earlier epochs were rewritten");
            kept = epochs;
        }
        eprintln!("kill {kills} ({delay:?} after epoch line {nth} of this run): checkpoint at epoch {}", kept.len());
        if kept.len() >= EPOCHS - 1 {
            break;
        }
    }
    assert!(kills >= 3, "only {kills} kills landed: the runs finish too fast for this test");
    assert!(!kept.is_empty(), "no kill came after a committed epoch");
    eprintln!("{kills} kills, {mid_write} of them inside a save (before its commit)");

    // The last run resumes from what is there and completes.
    let before = kept.len();
    let o = train(&out, out.join(checkpoint::META_FILE).exists()).output().unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}\n{}", stdout, String::from_utf8_lossy(&o.stderr));
    if before > 0 {
        assert!(stdout.contains(&format!("after epoch {before}\n")), "{stdout}");
    }
    let epochs = check_folder(&out).expect("a finished run has a checkpoint");
    assert_eq!(epochs.len(), EPOCHS);
    assert_eq!(&epochs[..before], &kept[..], "epochs done before the kills are kept as they were");
    assert_eq!(alexnet_lab::table::read_csv(out.join("metrics.csv")).unwrap().height(), EPOCHS);
    let _ = std::fs::remove_dir_all(&out);
}
