//! What each command does, through the library's API.

use std::path::{Path, PathBuf};

use alexnet_lab::kernels::{Kernels, KERNELS_ENV};
use alexnet_lab::data::{FashionMnist, Hub, ResizeMode, Source, CLASS_NAMES, SIDE};
use alexnet_lab::lecture::batch_size::{self as memory, SweepConfig};
use alexnet_lab::lecture::complexity::slides;
use alexnet_lab::lecture::{shapes, Complexity};
use alexnet_lab::report::table;
use alexnet_lab::sys::{parse_device, write_atomic};
use alexnet_lab::train::predict::{self, collect_images, read_image, to_gray, Guess, Predictor};
use alexnet_lab::train::{self, bench, evaluate_checkpoint, EvalOptions, Log, Profile, TrainConfig, Trainer};
use anyhow::{bail, Result};

use crate::args::{Cli, Command, DataArgs, DataCommand, Format, SplitName};

/// How long the hub may stay silent: `ALEXNET_LAB_HUB_TIMEOUT` seconds, else the library's 30 s.
pub const HUB_TIMEOUT_ENV: &str = "ALEXNET_LAB_HUB_TIMEOUT";

/// The hub settings: the hub clients' variables (`HF_HOME`, `HF_HUB_OFFLINE`, `HF_ENDPOINT`,
/// read by [`Hub::from_env`]) and the lab's timeout.
fn hub() -> Result<Hub> {
    let mut hub = Hub::from_env();
    if let Some(v) = std::env::var(HUB_TIMEOUT_ENV).ok().filter(|v| !v.trim().is_empty()) {
        match v.trim().parse::<f64>() {
            Ok(t) if t > 0.0 && t.is_finite() => hub.timeout = std::time::Duration::from_secs_f64(t),
            _ => bail!("{HUB_TIMEOUT_ENV}={v}: give the longest wait on the network in seconds, e.g. 30"),
        }
    }
    Ok(hub)
}

/// `--hub-dataset`, else `--data-dir`, else Fashion-MNIST from the hub.
fn source(data: DataArgs) -> Result<Source> {
    Ok(match (data.hub_dataset, data.data_dir) {
        (Some(repo), _) => Source::HubDataset(hub()?.for_repo(&repo)?),
        (None, Some(dir)) => Source::from_dir(dir),
        (None, None) => Source::Hub(hub()?),
    })
}

/// `--channels` (1 or 3), checked.
fn channels(data: &DataArgs) -> Result<Option<usize>> {
    match data.channels {
        None => Ok(None),
        Some(c) => {
            alexnet_lab::data::transforms::check_channels(c as usize)?;
            Ok(Some(c as usize))
        }
    }
}

/// The settings the binary takes from the environment (the library reads none of these
/// itself); returns the kernels `ALEXNET_LAB_KERNELS` chooses (the lab's when unset).
fn settings_from_env() -> Result<Kernels> {
    let kernels = match std::env::var(KERNELS_ENV).ok().filter(|v| !v.trim().is_empty()) {
        Some(v) => v.parse().map_err(|e| anyhow::anyhow!("{KERNELS_ENV}={v}: {e}"))?,
        None => Kernels::Lab,
    };
    #[cfg(feature = "cuda")]
    cuda_settings_from_env()?;
    if let Some(fp) = std::env::var(alexnet_lab::sys::failpoint::FAILPOINT_ENV).ok().filter(|v| !v.is_empty()) {
        alexnet_lab::sys::failpoint::set(&fp)?;
    }
    // glibc keeps freed memory for the next step (sys::malloc), unless told `system`.
    match std::env::var(alexnet_lab::sys::malloc::ENV).as_deref() {
        Ok("system") => {
            alexnet_lab::sys::malloc::leave_default();
        }
        Ok(v) if !v.trim().is_empty() => bail!("{}={v}: use `system` (glibc's defaults) or leave it unset", alexnet_lab::sys::malloc::ENV),
        _ => {}
    }
    Ok(kernels)
}

/// The commands whose network the kernels choice reaches: the others run the lab's kernels and
/// refuse another choice rather than ignore it.
fn kernels_for(command: &Command, kernels: Kernels) -> Result<()> {
    let takes = matches!(command, Command::Train(_) | Command::Bench { .. } | Command::Exercises { .. });
    if !takes && kernels != Kernels::Lab {
        bail!("{KERNELS_ENV}={kernels} applies to train, bench and exercises; this command runs the lab's kernels: unset it");
    }
    Ok(())
}

pub fn run(cli: Cli) -> Result<()> {
    let kernels = settings_from_env()?;
    kernels_for(&cli.command, kernels)?;
    match cli.command {
        Command::Data { command } => data_cmd(command)?,
        Command::Bench { model, mode, batch_size, image_size, warmup, repeats, device, json } => {
            alexnet_lab::sys::malloc::keep_freed_memory();
            let device = parse_device(&device)?;
            let r = bench::Bench { model, mode, batch_size, image_size, warmup, repeats, kernels }.run(&device)?;
            if json {
                println!("{}", serde_json::to_string(&r)?);
            } else {
                println!("{r}");
            }
        }
        Command::Exercises { names, out, list, device, data } => exercises(names, &out, list, &device, data, kernels)?,
        Command::GpuCheck { device } => gpu_check(&device)?,
        Command::Memory { model, image_size, batch_sizes, budget, steps, device, plot } => {
            alexnet_lab::sys::malloc::keep_freed_memory();
            let device = parse_device(&device)?;
            let from_env = std::env::var(memory::BUDGET_ENV).ok().filter(|v| !v.trim().is_empty());
            let budget_bytes = match (budget, from_env) {
                (Some(b), _) => memory::parse_bytes(&b)?,
                (None, Some(v)) => memory::parse_bytes(&v).map_err(|e| anyhow::anyhow!("{}={v}: {e}", memory::BUDGET_ENV))?,
                (None, None) => memory::default_budget()?,
            };
            if device.is_cpu() {
                println!("memory budget {} (CPU: a batch size predicted above it is not run)", memory::gib(budget_bytes));
            }
            let cfg = SweepConfig { model, image_size, batch_sizes, budget_bytes, steps };
            let sweep = memory::sweep(&cfg, &device, |p| {
                let (mb, secs) = (p.measured_bytes.map(memory::gib), p.seconds_per_step);
                match &p.error {
                    None => eprintln!("batch {}: {} measured, {:.3} s/step", p.batch_size, mb.unwrap_or("-".into()), secs.unwrap_or(0.0)),
                    Some(e) => eprintln!("batch {}: {e}", p.batch_size),
                }
            })?;
            print!("{sweep}");
            if let Some(path) = plot {
                write_atomic(&path, sweep.plot()?.as_bytes())?;
                println!("wrote {}", path.display());
            }
        }
        Command::Profiles { profile, json } => {
            let configs: Vec<TrainConfig> = match profile {
                Some(p) => vec![TrainConfig::for_profile(p)],
                None => Profile::ALL.iter().map(|p| TrainConfig::for_profile(*p)).collect(),
            };
            for c in configs {
                if json {
                    println!("{}", serde_json::to_string(&c)?);
                } else {
                    println!("{c}");
                }
            }
        }
        Command::Train(args) => {
            alexnet_lab::sys::malloc::keep_freed_memory();
            let device = parse_device(&args.device)?;
            let config = args.config(&device);
            let out = args.out.clone().unwrap_or_else(|| config.default_run_dir());
            let trainer = Trainer {
                device,
                channels: channels(&args.data)?,
                source: source(args.data.clone())?,
                resume: args.resume,
                progress: !args.quiet,
                log: Log::Stdout,
                kernels,
                ..Trainer::new(config).into_folder(&out)
            };
            #[cfg(unix)]
            stop_on_ctrl_c(&trainer.stop)?;
            let summary = match trainer.run() {
                Err(alexnet_lab::Error::Interrupted { epoch, step, epochs_done }) => {
                    eprintln!("\ninterrupted (Ctrl-C) in epoch {epoch} after {step} steps.");
                    if epochs_done > 0 {
                        eprintln!("The checkpoint of epoch {epochs_done} in {} is complete and kept.", out.display());
                    } else {
                        eprintln!("No epoch was complete, so nothing was saved in {}.", out.display());
                    }
                    eprintln!("Continue with:\n  {}", resume_command());
                    return Err(alexnet_lab::Error::Interrupted { epoch, step, epochs_done }.into());
                }
                other => other?,
            };
            println!("{}", summary.history.final_lines());
            println!("run folder: {} (checkpoint, metrics.csv, curve.csv, curve.svg)", out.display());
        }
        Command::Eval { checkpoint: path, limit, batch_size, device, data } => {
            let device = parse_device(&device)?;
            let ev = evaluate_checkpoint(&path, &EvalOptions { limit, batch_size, device, progress: true, ..EvalOptions::new(source(data)?) })?;
            println!("{}", ev.summary());
            print!("{}", ev.evaluation.per_class_table());
        }
        Command::Predict { checkpoint: path, resize, invert, top_k, format, show_pipelines, device, images } => {
            predict_cmd(&path, resize, invert, top_k, format, show_pipelines.as_deref(), &device, &images)?
        }
        Command::Shapes { model, format } => {
            // From the layer list: no weights allocated (a 4096x4096 AlexNet would need 62 GiB).
            let input = model.input.unwrap_or_else(|| model.model.default_input());
            let walk = shapes::walk_specs(&model.model.specs(input)?, &input)?;
            match format {
                Format::Table => print!("{walk}"),
                Format::Csv => print!("{}", walk.to_csv()?),
                Format::Json => println!("{}", serde_json::to_string_pretty(&walk)?),
            }
        }
        Command::Complexity { model, format, compare_lecture } => {
            let input = model.input.unwrap_or_else(|| model.model.default_input());
            let c = Complexity::of_specs(model.model.name(), &input, &model.model.specs(input)?)?;
            match format {
                Format::Table => print!("{}", c.to_table()),
                Format::Csv => print!("{}", c.to_csv()?),
                Format::Json if compare_lecture => {
                    let cmp = slides::compare_default()?;
                    println!("{}", serde_json::json!({ "complexity": c, "lecture_comparison": cmp }));
                }
                Format::Json => println!("{}", c.to_json()),
            }
            if compare_lecture && format != Format::Json {
                println!("\nThe lecture's table beside the computed one (d2l AlexNet, 224x224):");
                print!("{}", slides::compare_default()?);
            }
        }
    }
    Ok(())
}

fn data_cmd(cmd: DataCommand) -> Result<()> {
    match cmd {
        DataCommand::Info { data } => {
            let ch = channels(&data)?;
            let source = source(data)?;
            if matches!(source, Source::ImageFolder(_) | Source::HubDataset(_)) {
                let (train, test) = source.splits(ch)?;
                println!("{} (train) and {} (test)", train.describe(), test.describe());
                let rows: Vec<Vec<String>> = train
                    .class_names()
                    .iter()
                    .zip(train.class_counts()?.iter().zip(test.class_counts()?))
                    .enumerate()
                    .map(|(k, (n, (tr, te)))| vec![k.to_string(), n.clone(), tr.to_string(), te.to_string()])
                    .collect();
                print!("{}", table::render(&[">label", "class", ">train", ">test"], &rows));
                return Ok(());
            }
            if ch.is_some_and(|c| c != 1) {
                bail!("Fashion-MNIST is grey (1 channel); --channels 3 is for image folders of colour photos");
            }
            let d = FashionMnist::load(&source)?;
            println!("Fashion-MNIST from {source}");
            println!("train: {} images, test: {} images, {SIDE}x{SIDE} greyscale", d.train.len(), d.test.len());
            let rows: Vec<Vec<String>> = CLASS_NAMES
                .iter()
                .zip(d.train.class_counts().iter().zip(d.test.class_counts()))
                .enumerate()
                .map(|(k, (n, (tr, te)))| vec![k.to_string(), n.to_string(), tr.to_string(), te.to_string()])
                .collect();
            print!("{}", table::render(&[">label", "class", ">train", ">test"], &rows));
        }
        DataCommand::Show { data, n, split, out } => {
            if n == 0 {
                bail!("--n must be at least 1");
            }
            let d = FashionMnist::load(&source(data)?)?;
            let s = if split == SplitName::Train { &d.train } else { &d.test };
            let n = n.min(s.len());
            let ext = out.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
            match ext.as_str() {
                "svg" => write_atomic(&out, s.samples_svg(n, 9)?.as_bytes())?,
                "png" => write_atomic(&out, s.samples_png(n, 9)?.as_bytes())?,
                _ => bail!("--out {}: use a .svg or .png file name", out.display()),
            };
            println!("{n} {split:?} images -> {}", out.display());
            println!("labels: {}", s.samples_titles(n)?.join(", "));
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn predict_cmd(
    checkpoint: &Path,
    resize: ResizeMode,
    invert: bool,
    top_k: usize,
    format: Format,
    show_pipelines: Option<&Path>,
    device: &str,
    inputs: &[PathBuf],
) -> Result<()> {
    let device = parse_device(device)?;
    let predictor = Predictor::load(checkpoint, resize, invert, &device)?;
    let classes = predictor.classes.len();
    if top_k == 0 || top_k > classes {
        bail!("--top-k must be between 1 and {classes} (the checkpoint's classes), got {top_k}");
    }
    let (files, mut failed) = collect_images(inputs);
    for (_, e) in &failed {
        eprintln!("error: {e}");
    }
    let mut results: Vec<(PathBuf, Vec<Guess>)> = vec![];
    let mut shown = vec![];
    for f in &files {
        let photo = match read_image(f) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("error: {e}");
                failed.push((f.clone(), e));
                continue;
            }
        };
        let top = predictor.classify_image(&photo, top_k)?;
        if format == Format::Table {
            let guesses: Vec<String> = top.iter().map(|g| format!("{} ({:.1}%)", g.class, 100.0 * g.probability)).collect();
            println!("{}: {}", f.display(), guesses.join(", "));
        }
        if show_pipelines.is_some() {
            shown.push(to_gray(&photo));
        }
        results.push((f.clone(), top));
    }
    match format {
        Format::Table => {}
        Format::Csv => {
            let mut df = predict::to_dataframe(&results)?;
            print!("{}", table::csv_string(&mut df)?);
        }
        Format::Json => {
            let mut records: Vec<serde_json::Value> = results
                .iter()
                .map(|(f, top)| serde_json::json!({ "file": f.display().to_string(), "top": top }))
                .collect();
            records.extend(failed.iter().map(|(f, e)| serde_json::json!({ "file": f.display().to_string(), "error": e.to_string() })));
            println!("{}", serde_json::to_string_pretty(&records)?);
        }
    }
    if let Some(out) = show_pipelines {
        if !shown.is_empty() {
            write_atomic(out, predict::pipelines_png(&predictor, &shown)?.as_bytes())?;
            eprintln!("wrote {} (each row: the image, then what resize, crop, letterbox feed the network)", out.display());
        }
    }
    if !failed.is_empty() {
        bail!("{} of {} inputs could not be classified (see the errors above)", failed.len(), results.len() + failed.len());
    }
    Ok(())
}

/// The command line of this process with `--resume` (added if missing), quoted for a shell.
pub fn resume_command() -> String {
    let mut args: Vec<String> = std::env::args().collect();
    if !args.iter().any(|a| a == "--resume") {
        args.push("--resume".into());
    }
    let quote = |a: &String| {
        if !a.is_empty() && a.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c)) {
            a.clone()
        } else {
            format!("'{}'", a.replace('\'', r"'\''"))
        }
    };
    args.iter().map(quote).collect::<Vec<_>>().join(" ")
}

/// The first Ctrl-C asks the training loop to stop at the next step boundary through `token`
/// (the last complete checkpoint is kept); a second one ends the process at once (exit 130).
#[cfg(unix)]
fn stop_on_ctrl_c(token: &train::StopToken) -> Result<()> {
    use std::sync::atomic::{AtomicBool, Ordering};
    static PRESSED: AtomicBool = AtomicBool::new(false);
    let token = token.clone();
    let action = move || {
        if PRESSED.swap(true, Ordering::SeqCst) {
            signal_hook::low_level::exit(130);
        }
        token.stop();
    };
    // SAFETY: the action only touches atomics (the token is an `Arc<AtomicBool>`, cloned before
    // the handler is registered, so no allocation happens in it) and calls `_exit`
    // (async-signal-safe).
    unsafe { signal_hook::low_level::register(signal_hook::consts::SIGINT, action) }?;
    Ok(())
}

/// The CUDA path's math and algorithms from `ALEXNET_LAB_CUDA_MATH` (tf32, the default, or fp32)
/// and `ALEXNET_LAB_CUDNN_ALGOS` (deterministic, the default, or fastest).
#[cfg(feature = "cuda")]
fn cuda_settings_from_env() -> Result<()> {
    use alexnet_lab::kernels::cuda::cudnn::{self, Algorithms, Math};
    let var = |name: &str| std::env::var(name).ok().map(|v| v.trim().to_ascii_lowercase()).filter(|v| !v.is_empty());
    let math = match var("ALEXNET_LAB_CUDA_MATH").as_deref() {
        None | Some("tf32") => Math::Tf32,
        Some("fp32") => Math::Fp32,
        Some(v) => bail!("ALEXNET_LAB_CUDA_MATH={v}: use tf32 (PyTorch's default for convolutions) or fp32"),
    };
    let algorithms = match var("ALEXNET_LAB_CUDNN_ALGOS").as_deref() {
        None | Some("deterministic") => Algorithms::Deterministic,
        Some("fastest") => Algorithms::Fastest,
        Some(v) => bail!("ALEXNET_LAB_CUDNN_ALGOS={v}: use deterministic or fastest"),
    };
    cudnn::set(math, algorithms);
    Ok(())
}

/// `alexnet-lab gpu-check`: the device's ops against the CPU's (kernels::check).
fn gpu_check(device: &str) -> Result<()> {
    use alexnet_lab::kernels::check;
    let device = parse_device(device)?;
    if device.is_cpu() {
        bail!(
            "gpu-check compares a GPU's ops with the CPU's: give --device cuda:0 (this binary was built {} the `cuda` feature)",
            if cfg!(feature = "cuda") { "with" } else { "without" }
        );
    }
    #[cfg(feature = "cuda")]
    let (tol, setting) = {
        let (math, algorithms) = alexnet_lab::kernels::cuda::cudnn::settings();
        let tol = if math == alexnet_lab::kernels::cuda::cudnn::Math::Fp32 { check::FP32_TOL } else { check::TF32_TOL };
        (tol, format!("cuDNN math {math:?}, algorithms {algorithms:?}"))
    };
    #[cfg(not(feature = "cuda"))]
    let (tol, setting) = (check::FP32_TOL, String::new());
    println!("{} against the CPU; {setting}", alexnet_lab::sys::device_name(&device));
    let rows = check::against_cpu(&device, tol)?;
    for r in &rows {
        println!("{r}");
    }
    let failed = rows.iter().filter(|r| !r.ok).count();
    if failed > 0 {
        bail!("{failed} of {} checks failed", rows.len());
    }
    println!("all {} checks passed", rows.len());
    Ok(())
}

/// `alexnet-lab exercises`: notebook 07's recorded runs, trained (or left as they are when
/// finished) one after the other; Ctrl-C stops the one running after its last full epoch.
fn exercises(names: Vec<String>, out: &Path, list: bool, device: &str, data: DataArgs, kernels: Kernels) -> Result<()> {
    use alexnet_lab::lecture::exercises;
    let all = exercises::recorded();
    let unknown: Vec<&String> = names.iter().filter(|n| !all.iter().any(|e| &e.name == *n)).collect();
    if !unknown.is_empty() {
        let known: Vec<&str> = all.iter().map(|e| e.name.as_str()).collect();
        bail!("no experiment named {}: the experiments are {}", unknown.iter().map(|n| n.as_str()).collect::<Vec<_>>().join(", "), known.join(", "));
    }
    let chosen: Vec<_> = all.into_iter().filter(|e| names.is_empty() || names.contains(&e.name)).collect();
    if list {
        for e in &chosen {
            println!("{:<44} {}", e.name, e.config);
        }
        return Ok(());
    }
    alexnet_lab::sys::malloc::keep_freed_memory();
    let device = parse_device(device)?;
    let channels = channels(&data)?;
    let source = source(data)?;
    let stop = train::StopToken::new();
    stop_on_ctrl_c(&stop)?;
    for e in &chosen {
        let trainer = Trainer {
            device: device.clone(),
            source: source.clone(),
            channels,
            resume: true,
            progress: true,
            log: Log::Stdout,
            stop: stop.clone(),
            kernels,
            ..Trainer::new(e.config.clone()).into_folder(out.join(&e.name))
        };
        println!("== {}", e.name);
        trainer.run()?;
        println!("{}", train::run_label(&out.join(&e.name))?);
    }
    Ok(())
}
