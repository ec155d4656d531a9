//! A test's scratch folder under the system temp dir, removed when the test ends (passed or
//! panicked): a test run left ~0.7 GB of checkpoints and runs in /tmp before. Set
//! `ALEXNET_LAB_KEEP_TEST_DIRS=1` to keep them for a look after a failure.
#![allow(dead_code)]

use std::ops::Deref;
use std::path::{Path, PathBuf};

pub struct Scratch(PathBuf);

impl Scratch {
    /// `<temp>/alexnet-lab-<name>-<pid>`, empty.
    pub fn new(name: &str) -> Scratch {
        let d = std::env::temp_dir().join(format!("alexnet-lab-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Scratch(d)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<std::ffi::OsStr> for Scratch {
    fn as_ref(&self) -> &std::ffi::OsStr {
        self.0.as_os_str()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::env::var_os("ALEXNET_LAB_KEEP_TEST_DIRS").is_none() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}
