//! What this build of credbox is: its own version, the wasmtime it embeds
//! and the WIT package whose `helper` world it runs.
//!
//! `build.rs` reads the wasmtime version from `Cargo.lock` and the package
//! from `wit/helper.wit`, so these never disagree with what is built.

/// credbox's own version.
pub const CREDBOX: &str = env!("CARGO_PKG_VERSION");

/// The version of the embedded wasmtime.
pub const WASMTIME: &str = env!("CREDBOX_WASMTIME_VERSION");

/// The WIT package helpers are written against: `credbox:helper@0.3.0`.
pub const WIT_PACKAGE: &str = env!("CREDBOX_WIT_PACKAGE");

/// The WIT package's name without its version: `credbox:helper`.
pub const WIT_PACKAGE_NAME: &str = "credbox:helper";

/// What `credbox --version` prints after the name:
/// `0.1.0 (wasmtime 48.0.8, credbox:helper@0.3.0)`.
pub const LONG: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (wasmtime ",
    env!("CREDBOX_WASMTIME_VERSION"),
    ", ",
    env!("CREDBOX_WIT_PACKAGE"),
    ")"
);

/// The version of the WIT package new helpers target: `0.3.0`.
pub fn wit_version() -> &'static str {
    WIT_PACKAGE
        .split_once('@')
        .map_or("", |(_, version)| version)
}

/// The world new helpers target: `credbox:helper/helper@0.3.0`.
pub fn world() -> String {
    format!("{WIT_PACKAGE_NAME}/helper@{}", wit_version())
}

/// Older versions of the package whose components this credbox still runs
/// unchanged (their WIT is frozen in `wit/v<version>/`).
pub const OLDER_WIT_VERSIONS: &[&str] = &["0.2.0", "0.1.0"];

/// Every world this credbox runs, newest first:
/// `credbox:helper/helper@0.3.0, @0.2.0 and @0.1.0`.
pub fn worlds() -> String {
    let mut text = world();
    for (i, version) in OLDER_WIT_VERSIONS.iter().enumerate() {
        let last = i + 1 == OLDER_WIT_VERSIONS.len();
        text.push_str(if last { " and @" } else { ", @" });
        text.push_str(version);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_versions_come_from_the_lock_file_and_the_wit() {
        let lock = include_str!("../../Cargo.lock");
        assert!(
            lock.contains(&format!("name = \"wasmtime\"\nversion = \"{WASMTIME}\"\n")),
            "{WASMTIME}"
        );
        let wit = include_str!("../../wit/helper.wit");
        assert!(wit.contains(&format!("\npackage {WIT_PACKAGE};\n")));
        assert!(WIT_PACKAGE.starts_with(WIT_PACKAGE_NAME));
        assert_eq!(world(), format!("credbox:helper/helper@{}", wit_version()));
        assert!(!wit_version().is_empty());
        for older in OLDER_WIT_VERSIONS {
            let frozen = std::fs::read_to_string(format!(
                "{}/../wit/v{older}/helper.wit",
                env!("CARGO_MANIFEST_DIR")
            ))
            .unwrap();
            assert!(frozen.contains(&format!("\npackage {WIT_PACKAGE_NAME}@{older};\n")));
        }
        assert!(worlds().starts_with(&world()));
        assert_eq!(
            LONG,
            format!("{CREDBOX} (wasmtime {WASMTIME}, {WIT_PACKAGE})")
        );
    }
}
