//! Tries to read, list and write the host's filesystem; reports `denied`
//! only when every attempt failed.

use credbox_guest::{Credential, Error, Helper, Request};

struct OpenFile;

impl Helper for OpenFile {
    fn fetch(_request: Request) -> Result<Credential, Error> {
        let attempts = [
            ("read", std::fs::read("/etc/passwd").is_ok()),
            ("read_dir", std::fs::read_dir("/").is_ok()),
            ("write", std::fs::write("/tmp/credbox-escape", "x").is_ok()),
        ];
        let leaked: Vec<&str> = attempts
            .iter()
            .filter(|(_, succeeded)| *succeeded)
            .map(|(what, _)| *what)
            .collect();
        let verdict = if leaked.is_empty() {
            "denied".to_owned()
        } else {
            format!("leaked:{}", leaked.join(","))
        };
        Ok(Credential::new().header("X-Fs", verdict))
    }
}

credbox_guest::export!(OpenFile);
