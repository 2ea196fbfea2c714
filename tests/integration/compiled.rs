//! The compiled-component cache, digest pinning and `credbox build`.

use std::path::PathBuf;

use credbox::units::hex_sha256;
use credbox_test_artifacts::{ENV_BEARER, GUEST_NOT_A_HELPER};

use crate::support::util::{Cache, manifest};

const TOKEN: (&str, &str) = ("API_TOKEN", "abc");
const HEADERS: &str = "{\"Authorization\":\"Bearer abc\"}\n";

/// The compiled files in `cache`.
fn artifacts(cache: &Cache) -> Vec<PathBuf> {
    match std::fs::read_dir(cache.path().join("compiled")) {
        Ok(dir) => dir.map(|e| e.unwrap().path()).collect(),
        Err(_) => Vec::new(),
    }
}

fn sha256_of(path: &str) -> String {
    hex_sha256(&std::fs::read(path).unwrap())
}

#[test]
fn the_first_run_stores_a_compiled_component_that_later_runs_load() {
    let cache = Cache::new();
    // The first run stores it (a `--no-cache` run creates nothing), and the
    // later ones load it (`--no-cache`, so that the helper really runs).
    let first = ["run", ENV_BEARER, "--allow-env", "API_TOKEN"];
    let args = ["run", ENV_BEARER, "--allow-env", "API_TOKEN", "--no-cache"];
    assert_eq!(cache.run(&first, &[TOKEN]).ok(), HEADERS);
    let files = artifacts(&cache);
    assert_eq!(files.len(), 1);
    let name = files[0].file_name().unwrap().to_str().unwrap().to_owned();
    assert!(name.starts_with(&sha256_of(ENV_BEARER)), "{name}");
    let stored = std::fs::read(&files[0]).unwrap();
    let modified = std::fs::metadata(&files[0]).unwrap().modified().unwrap();
    assert_eq!(cache.run(&args, &[TOKEN]).ok(), HEADERS);
    assert_eq!(std::fs::read(&files[0]).unwrap(), stored);
    assert_eq!(
        std::fs::metadata(&files[0]).unwrap().modified().unwrap(),
        modified,
        "a valid artifact is loaded, not rewritten"
    );
}

#[test]
fn a_corrupt_or_truncated_artifact_is_rebuilt_not_loaded() {
    let cache = Cache::new();
    let args = ["run", ENV_BEARER, "--allow-env", "API_TOKEN"];
    cache.run(&args, &[TOKEN]).ok();
    let file = artifacts(&cache).pop().unwrap();
    let good = std::fs::read(&file).unwrap();

    // One flipped bit in the middle of the compiled code.
    let mut flipped = good.clone();
    flipped[good.len() / 2] ^= 0x01;
    // Cut short, as by a crash during a non-atomic write.
    let truncated = good[..good.len() / 3].to_vec();
    // Right size, wrong contents.
    let zeroed = vec![0u8; good.len()];
    for (i, bad) in [flipped, truncated, zeroed].into_iter().enumerate() {
        std::fs::write(&file, &bad).unwrap();
        // A config value of its own: a credential-cache miss, so the
        // helper is loaded and runs.
        let miss = format!("RUN={i}");
        let out = cache.run(&[&args[..], &["--config", &miss]].concat(), &[TOKEN]);
        assert_eq!(out.ok(), HEADERS);
        let now = std::fs::read(&file).unwrap();
        assert_ne!(now, bad, "the bad artifact was replaced");
        assert_eq!(now.len(), good.len());
    }
}

#[test]
fn no_cache_reads_the_compiled_cache_but_never_changes_it() {
    let cache = Cache::new();
    let args = ["run", ENV_BEARER, "--allow-env", "API_TOKEN", "--no-cache"];
    // An empty compiled-component cache stays empty.
    cache.run(&args[..4], &[TOKEN]).ok();
    let file = artifacts(&cache).pop().unwrap();
    let good = std::fs::read(&file).unwrap();
    std::fs::remove_file(&file).unwrap();
    assert_eq!(cache.run(&args, &[TOKEN]).ok(), HEADERS);
    assert!(
        artifacts(&cache).is_empty(),
        "--no-cache stored an artifact"
    );
    // A bad artifact is neither loaded nor removed nor replaced.
    let mut bad = good.clone();
    bad[good.len() / 2] ^= 0x01;
    std::fs::write(&file, &bad).unwrap();
    assert_eq!(cache.run(&args, &[TOKEN]).ok(), HEADERS);
    assert_eq!(std::fs::read(&file).unwrap(), bad, "--no-cache changed it");
}

#[test]
fn a_pinned_digest_must_match() {
    let cache = Cache::new();
    let digest = sha256_of(ENV_BEARER);
    let env = "[env]\nallow = [\"API_TOKEN\"]\n";
    let pinned = manifest(
        "pinned",
        ENV_BEARER,
        &format!("sha256 = \"{digest}\"\n{env}"),
    );
    assert_eq!(cache.run(&["run", pinned.arg()], &[TOKEN]).ok(), HEADERS);

    let wrong = "0".repeat(64);
    let other = manifest(
        "pinned",
        ENV_BEARER,
        &format!("sha256 = \"{wrong}\"\n{env}"),
    );
    let fresh = Cache::new();
    let line = fresh
        .run(&["run", other.arg()], &[TOKEN])
        .fails(2, "but the manifest pins 0000");
    assert!(line.contains(&digest), "{line}");
    assert!(artifacts(&fresh).is_empty(), "nothing was compiled");

    let malformed = manifest("pinned", ENV_BEARER, "sha256 = \"xyz\"\n");
    cache
        .run(&["run", malformed.arg()], &[])
        .fails(2, "sha256: expected 64 hex digits");
}

#[test]
fn build_compiles_ahead_and_prints_the_pin() {
    let cache = Cache::new();
    let m = manifest("env-bearer", ENV_BEARER, "");
    let out = cache.run(&["build", m.arg()], &[]);
    assert_eq!(
        out.ok(),
        format!("sha256 = \"{}\"\n", sha256_of(ENV_BEARER))
    );
    assert!(
        out.stderr
            .contains("implements credbox:helper/helper@0.3.0; compiled in"),
        "{}",
        out.stderr
    );
    assert_eq!(artifacts(&cache).len(), 1);
    let again = cache.run(&["build", m.arg()], &[]);
    assert!(
        again.stderr.contains("already compiled"),
        "{}",
        again.stderr
    );
}

#[test]
fn build_names_what_a_non_helper_lacks() {
    let cache = Cache::new();
    let out = cache.run(&["build", GUEST_NOT_A_HELPER], &[]);
    let line = out.fails(2, "does not fit the credbox:helper/helper@0.3.0 world");
    assert!(line.contains("fetch"), "{line}");
    // Running it says the same.
    cache
        .run(&["run", GUEST_NOT_A_HELPER], &[])
        .fails(2, "does not fit");
}
