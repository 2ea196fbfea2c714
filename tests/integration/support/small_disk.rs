//! A real small file system (a tmpfs of a few hundred KiB), mounted for
//! one test and unmounted when it ends: the way to fill a disk for real.
//! Mounting needs root (as CI runs); elsewhere the test skips with a note,
//! or fails under `CI=true`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::clients::on_ci;

/// A mounted tmpfs; unmounted on drop.
pub struct SmallDisk {
    _parent: tempfile::TempDir,
    path: PathBuf,
}

impl SmallDisk {
    /// A tmpfs of `kib` KiB, or `None` (after a note) where mounting is
    /// not allowed; under `CI=true` that is a failure.
    pub fn mount(kib: u32) -> Option<SmallDisk> {
        let parent = tempfile::tempdir().unwrap();
        let path = parent.path().join("disk");
        std::fs::create_dir(&path).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={kib}k,mode=0700")])
            .arg("tmpfs")
            .arg(&path)
            .output();
        match out {
            Ok(out) if out.status.success() => Some(SmallDisk {
                _parent: parent,
                path,
            }),
            other => {
                let why = format!("cannot mount a tmpfs to fill (needs root): {other:?}");
                assert!(!on_ci(), "{why}; CI=true makes this a failure");
                let _ = writeln!(std::io::stderr(), "skipped: {why}");
                None
            }
        }
    }

    /// Where it is mounted.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Fills the disk: writes a new filler file until the file system is
    /// full. Returns its path (remove it to free the space).
    pub fn fill(&self) -> PathBuf {
        let count = std::fs::read_dir(&self.path).unwrap().count();
        let filler = self.path.join(format!("filler-{count}"));
        let mut file = std::fs::File::create(&filler).unwrap();
        let block = [0xa5u8; 4096];
        // Bounded: the disk is a few hundred KiB.
        for _ in 0..1_000_000 {
            if file
                .write_all(&block)
                .and_then(|()| file.sync_all())
                .is_err()
            {
                break;
            }
        }
        // The last partial block too.
        while file.write_all(&[0xa5]).is_ok() {}
        let _ = file.sync_all();
        filler
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}
