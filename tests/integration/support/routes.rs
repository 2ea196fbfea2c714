//! The user's routes file: `config.toml`, which `CREDBOX_CONFIG` names,
//! mapping URLs to manifests for the front ends run without one (`credbox
//! git`, `docker`, `k8s`, `cargo`).

use std::path::PathBuf;

/// A routes file in a temporary folder of its own, removed when dropped.
pub struct Routes {
    /// Kept so the folder lives as long as the file is used.
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl Routes {
    /// A routes file with one `[[route]]` for each `(url, manifest)`, in
    /// order.
    pub fn new(routes: &[(&str, &str)]) -> Routes {
        let text: String = routes
            .iter()
            .map(|(url, manifest)| format!("[[route]]\nurl = {url:?}\nmanifest = {manifest:?}\n"))
            .collect();
        Routes::text(&text)
    }

    /// A routes file of exactly `text` (a broken one, say).
    pub fn text(text: &str) -> Routes {
        let routes = Routes::missing();
        std::fs::write(&routes.path, text).unwrap();
        routes
    }

    /// A routes path where no file is.
    pub fn missing() -> Routes {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        Routes { _dir: dir, path }
    }

    /// The file's path.
    pub fn path(&self) -> &str {
        self.path.to_str().unwrap()
    }

    /// The variable that points credbox at this file.
    pub fn env(&self) -> (&'static str, &str) {
        ("CREDBOX_CONFIG", self.path())
    }
}
