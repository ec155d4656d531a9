//! A learner's own images as a [`Dataset`]: one sub-folder per class (torchvision's
//! `ImageFolder` layout), PNG, JPEG or WebP files of any size, grey or colour.
//!
//! ```text
//! photos/                 photos/
//!   cat/a.jpg               train/cat/a.jpg  train/dog/c.png
//!   cat/b.jpg       or      test/cat/b.jpg   test/dog/d.png
//!   dog/c.png               (test/ may be called val/)
//! ```
//!
//! - Class names are the sub-folders' names, sorted (label `k` is the `k`-th); hidden files and
//!   folders are left out; a class folder may hold sub-folders of its own.
//! - Every file is read and its header checked when the folder is opened (no pixel decoded): a
//!   file that is not a PNG, JPEG or WebP, a file cut short (header or data: an interrupted
//!   copy) or an image over [`MAX_PIXELS`] is reported with its path, all of them at once, and
//!   the folder is refused; nothing is dropped in silence, nothing trained on grey filler.
//! - Pixels are decoded when a batch needs them (every epoch again): memory holds the file list
//!   and the loader's prefetched batches only, at the cost of decoding each photo once per epoch.
//! - Channels: 3 (RGB) when any image stores colour, else 1; or as asked. A colour photo made
//!   grey follows torchvision's `Grayscale()` ([`to_gray`](super::photo::to_gray)).
//! - Without `train/` and `test/` (or `val/`) sub-folders, every fifth image of each class (in
//!   file-name order: the 5th, 10th, ...) is held out as the test split.
//! - Examples are ordered class by class in turn (the first image of each class, then the
//!   second, ...), so the first `n` (a run's `--limit`) keep the classes balanced.
//!
//! [`MAX_PIXELS`]: super::photo::MAX_PIXELS

use std::path::{Path, PathBuf};

use image::DynamicImage;

use super::dataset::Dataset;
use super::photo::{collect_images, probe_image, read_image};
use crate::{Error, Result};

/// How many problem files an error lists by name before it counts the rest.
const LISTED: usize = 10;

/// Images in class sub-folders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageFolder {
    root: PathBuf,
    classes: Vec<String>,
    files: Vec<PathBuf>,
    labels: Vec<usize>,
    channels: usize,
}

impl ImageFolder {
    /// Whether `dir` looks like an image folder: it holds at least one sub-folder that is not
    /// hidden. (Fashion-MNIST's IDX folders hold files only.)
    pub(crate) fn looks_like(dir: &Path) -> bool {
        class_dirs(dir).is_ok_and(|d| !d.is_empty())
    }

    /// The train and test splits of `dir`: its `train/` and `test/` (or `val/`) sub-folders
    /// when it has them, else every fifth image of each class held out for testing.
    /// `channels`: 1 or 3, or `None` to take 3 when any image stores colour.
    pub fn splits(dir: &Path, channels: Option<usize>) -> Result<(Self, Self)> {
        let test_dir = ["test", "val"].iter().map(|n| dir.join(n)).find(|d| d.is_dir());
        let train_dir = dir.join("train");
        if let (true, Some(test_dir)) = (train_dir.is_dir(), test_dir) {
            let (train, test) = (Self::scan(&train_dir)?, Self::scan(&test_dir)?);
            if train.classes != test.classes {
                return Err(Error::data(format!(
                    "{} has the classes {:?} but {} has {:?}: give both the same class folders",
                    train_dir.display(),
                    train.classes,
                    test_dir.display(),
                    test.classes
                )));
            }
            let c = channels.unwrap_or(if train.channels == 3 || test.channels == 3 { 3 } else { 1 });
            return Ok((train.with_channels(c)?, test.with_channels(c)?));
        }
        let all = Self::scan(dir)?;
        let c = channels.unwrap_or(all.channels);
        // The scan lists each class's files in name order (class by class in turn), so counting
        // per class in dataset order gives each file's place within its class.
        let mut seen = vec![0usize; all.classes.len()];
        let mut held = Vec::with_capacity(all.labels.len());
        for &l in &all.labels {
            let k = seen.get_mut(l).ok_or_else(|| Error::data(format!("label {l} has no class folder")))?;
            *k += 1;
            held.push(*k % 5 == 0);
        }
        if let Some((name, &n)) = all.classes.iter().zip(&seen).find(|(_, &n)| n < 5) {
            return Err(Error::data(format!(
                "class `{name}` of {} has {n} image{}; holding out every fifth image for testing needs at least 5 per \
                 class (or give the folder train/ and test/ sub-folders, each with the class folders)",
                dir.display(),
                if n == 1 { "" } else { "s" }
            )));
        }
        let pick = |test: bool| -> Result<Self> {
            let (files, labels) = all
                .files
                .iter()
                .zip(&all.labels)
                .zip(&held)
                .filter(|(_, &h)| h == test)
                .map(|((f, &l), _)| (f.clone(), l))
                .unzip();
            Self { root: all.root.clone(), classes: all.classes.clone(), files, labels, channels: c }.with_channels(c)
        };
        Ok((pick(false)?, pick(true)?))
    }

    /// All images of `dir` (one sub-folder per class), headers checked; channels as the images
    /// say (3 when any stores colour).
    pub fn open(dir: &Path) -> Result<Self> {
        Self::scan(dir)
    }

    fn scan(dir: &Path) -> Result<Self> {
        let classes = class_dirs(dir)?;
        let layout = || {
            format!(
                "put each class's images in a sub-folder named after the class ({0}/cat/1.jpg, {0}/dog/2.png)",
                dir.display()
            )
        };
        if classes.is_empty() {
            return Err(Error::data(format!("{} holds no class folder: {}", dir.display(), layout())));
        }
        if classes.len() == 1 {
            return Err(Error::data(format!(
                "{} holds one class folder ({}): a classifier needs at least 2 classes; {}",
                dir.display(),
                classes.join(""),
                layout()
            )));
        }
        let (mut per_class, mut problems) = (vec![], vec![]);
        for name in &classes {
            let (files, bad) = collect_images(&[dir.join(name)]);
            problems.extend(bad.into_iter().map(|(_, e)| e.detail()));
            per_class.push(files);
        }
        let loose: Vec<String> = std::fs::read_dir(dir)
            .map_err(|e| Error::io(format!("cannot list {}", dir.display()), e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && super::photo::is_image_name(p))
            .map(|p| p.display().to_string())
            .collect();
        if !loose.is_empty() {
            problems.push(format!(
                "{} image file{} directly in {} belong{} to no class ({}): move {} into a class folder",
                loose.len(),
                if loose.len() == 1 { "" } else { "s" },
                dir.display(),
                if loose.len() == 1 { "s" } else { "" },
                loose.iter().take(3).cloned().collect::<Vec<_>>().join(", "),
                if loose.len() == 1 { "it" } else { "them" }
            ));
        }
        let mut color = false;
        for files in &per_class {
            for f in files {
                match probe_image(f) {
                    Ok(h) => color |= h.color,
                    Err(e) => problems.push(e.detail()),
                }
            }
        }
        if !problems.is_empty() {
            let n = problems.len();
            let mut msg = format!("{} cannot be used as it is ({n} problem{}):", dir.display(), if n == 1 { "" } else { "s" });
            for p in problems.iter().take(LISTED) {
                msg += &format!("\n  {p}");
            }
            if n > LISTED {
                msg += &format!("\n  ... and {} more", n - LISTED);
            }
            msg += "\nfix or remove these files";
            return Err(Error::data(msg));
        }
        // Class by class in turn: balanced prefixes.
        let (mut files, mut labels) = (vec![], vec![]);
        let longest = per_class.iter().map(Vec::len).max().unwrap_or(0);
        for j in 0..longest {
            for (k, class_files) in per_class.iter().enumerate() {
                if let Some(f) = class_files.get(j) {
                    files.push(f.clone());
                    labels.push(k);
                }
            }
        }
        Ok(Self { root: dir.to_path_buf(), classes, files, labels, channels: if color { 3 } else { 1 } })
    }

    /// The same images made into `channels` channels (1: grey, 3: RGB).
    pub fn with_channels(mut self, channels: usize) -> Result<Self> {
        super::transforms::check_channels(channels)?;
        self.channels = channels;
        Ok(self)
    }

    /// The folder it was read from.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The image files, in the dataset's order.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

}

impl Dataset for ImageFolder {
    fn len(&self) -> usize {
        self.files.len()
    }

    fn channels(&self) -> usize {
        self.channels
    }

    fn class_names(&self) -> &[String] {
        &self.classes
    }

    fn image(&self, i: usize) -> Result<DynamicImage> {
        let f = self.files.get(i).ok_or_else(|| self.outside(i))?;
        read_image(f)
    }

    fn label(&self, i: usize) -> Result<usize> {
        self.labels.get(i).copied().ok_or_else(|| self.outside(i))
    }

    fn describe(&self) -> String {
        format!(
            "the image folder {} ({} classes, {} images, {})",
            self.root.display(),
            self.classes.len(),
            self.files.len(),
            if self.channels == 3 { "RGB" } else { "grey" }
        )
    }
}

impl ImageFolder {
    fn outside(&self, i: usize) -> Error {
        Error::data(format!("example {i} is outside the {} images of {}", self.files.len(), self.root.display()))
    }
}

/// Writes an image folder to try [`ImageFolder`] on without photos of your own: `per_class`
/// colour photos in `dir/<class>/` for each of `classes`, each seeded noise over the colour its
/// class names (`red`, `green` or `blue`; other names take them in turn), of growing sizes
/// (20x30 upwards), PNG and JPEG in turn. The same folder every time. (Public for learners:
/// `tests/notebooks/import_crate.ipynb` trains on such a folder; the tests use it too.)
pub fn write_colour_folder(dir: &Path, classes: &[&str], per_class: usize) -> Result<()> {
    let mut state = 7u64;
    let mut rnd = move || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (state >> 33) as u32
    };
    for (k, class) in classes.iter().enumerate() {
        let colour = match *class {
            "red" => 0,
            "green" => 1,
            "blue" => 2,
            _ => k % 3,
        };
        let d = dir.join(class);
        std::fs::create_dir_all(&d).map_err(|e| Error::io(format!("cannot create {}", d.display()), e))?;
        for i in 0..per_class {
            let (w, h) = (20 + 3 * i as u32, 30 + 2 * i as u32);
            let img = image::RgbImage::from_fn(w, h, |_, _| {
                let mut p = [0u8; 3];
                for (c, v) in p.iter_mut().enumerate() {
                    *v = (rnd() % 90) as u8 + if c == colour { 150 } else { 0 };
                }
                image::Rgb(p)
            });
            let (name, fmt) = if i % 2 == 0 { (format!("{i:02}.jpg"), image::ImageFormat::Jpeg) } else { (format!("{i:02}.png"), image::ImageFormat::Png) };
            let path = d.join(name);
            img.save_with_format(&path, fmt).map_err(|e| Error::data(format!("cannot write {}: {e}", path.display())))?;
        }
    }
    Ok(())
}

/// The names of the sub-folders of `dir` that are not hidden, sorted.
fn class_dirs(dir: &Path) -> Result<Vec<String>> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(format!("cannot list {}", dir.display()), e))?;
    let mut names = vec![];
    for e in entries {
        let e = e.map_err(|e| Error::io(format!("cannot list {}", dir.display()), e))?;
        let name = e.file_name().to_string_lossy().to_string();
        if !name.starts_with('.') && e.file_type().is_ok_and(|t| t.is_dir()) {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}
