//! `credbox inspect`: what a component is, without running it.
//!
//! The world it targets and that world's version (read from the names of
//! the `credbox:helper` interfaces it imports, such as
//! `credbox:helper/types@0.1.0`), whether this credbox can run it, what it
//! imports (which WASI and credbox interfaces) and exports, its size and
//! SHA-256, and whether its compiled form is in the compiled-component
//! cache. Inspecting is read-only: a component that is not cached is
//! compiled in memory and not stored (`credbox build` stores it).

use std::path::{Path, PathBuf};

use serde_json::json;
use wasmtime::component::types::ComponentItem;

use crate::engine;
use crate::error::Result;
use crate::guest;
use crate::manifest::LoadedManifest;
use crate::policy::limits::MAX_COMPONENT_SIZE;
use crate::private_dir::{self, PrivateDir};
use crate::units::{first_line, format_size};
use crate::version;

/// One import or export of a component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// Its name: an interface such as `wasi:cli/environment@0.2.6`, or a
    /// plain name such as `fetch`.
    pub name: String,
    /// What it is: `interface`, `function`, `type`, `resource`, `module`,
    /// `component` or `core function`.
    pub kind: &'static str,
}

impl Item {
    /// Which family the item belongs to: `wasi` for `wasi:*`, `credbox` for
    /// `credbox:*`, else `other`.
    pub fn family(&self) -> &'static str {
        if self.name.starts_with("wasi:") {
            "wasi"
        } else if self.name.starts_with("credbox:") {
            "credbox"
        } else {
            "other"
        }
    }
}

/// What `inspect` found out about a component.
#[derive(Debug, Clone)]
pub struct Inspection {
    /// The component file.
    pub component: PathBuf,
    /// Its size in bytes.
    pub size: u64,
    /// Lowercase hex SHA-256 of the file.
    pub sha256: String,
    /// Whether its compiled form was in the compiled-component cache.
    pub compiled: bool,
    /// The versions of the `credbox:helper` package named by its imports
    /// and exports, sorted, each once (one, for a well-formed helper).
    pub wit_versions: Vec<String>,
    /// `Ok` when this credbox can run it (its imports are all provided and
    /// it exports `fetch` with the right type); else why not.
    pub fits: std::result::Result<(), String>,
    /// What it imports, in the component's order.
    pub imports: Vec<Item>,
    /// What it exports, in the component's order.
    pub exports: Vec<Item>,
}

impl Inspection {
    /// The world the component targets, such as
    /// `credbox:helper/helper@0.1.0`, when it names exactly one version of
    /// the `credbox:helper` package.
    pub fn world(&self) -> Option<String> {
        match self.wit_versions.as_slice() {
            [version] => Some(format!("{}/helper@{version}", version::WIT_PACKAGE_NAME)),
            _ => None,
        }
    }

    /// One line on the world: which one, and whether this credbox runs it.
    pub fn world_summary(&self) -> String {
        let runs = version::worlds();
        match (&self.world(), &self.fits) {
            (Some(world), Ok(())) => format!("{world} (this credbox runs {runs})"),
            (Some(world), Err(why)) => format!("{world}, which this credbox cannot run: {why}"),
            (None, _) if self.wit_versions.is_empty() => format!(
                "none: it names no {} interface (not a credbox helper; this credbox runs {runs})",
                version::WIT_PACKAGE_NAME
            ),
            (None, _) => format!(
                "mixed: it names {} versions {} (this credbox runs {runs})",
                version::WIT_PACKAGE_NAME,
                self.wit_versions.join(", ")
            ),
        }
    }

    /// The inspection as JSON (`credbox inspect --json`).
    pub fn to_json(&self) -> serde_json::Value {
        let items = |items: &[Item]| -> Vec<serde_json::Value> {
            items
                .iter()
                .map(|i| json!({"name": i.name, "kind": i.kind, "family": i.family()}))
                .collect()
        };
        json!({
            "component": self.component,
            "size": self.size,
            "sha256": self.sha256,
            "world": self.world(),
            "wit_versions": self.wit_versions,
            "runs": self.fits.is_ok(),
            "cannot_run_because": self.fits.as_ref().err(),
            "credbox_world": version::world(),
            "compiled": self.compiled,
            "imports": items(&self.imports),
            "exports": items(&self.exports),
        })
    }

    /// The inspection as text, one fact a line.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let mut line = |key: &str, value: &str| out.push_str(&format!("{key:<10} {value}\n"));
        line("component", &self.component.display().to_string());
        line("world", &self.world_summary());
        line(
            "size",
            &format!("{} ({} bytes)", approximate_size(self.size), self.size),
        );
        line("sha256", &self.sha256);
        line(
            "compiled",
            if self.compiled {
                "yes, in the compiled-component cache"
            } else {
                "no (`credbox build` compiles it ahead of time; else the first run does)"
            },
        );
        for (title, items) in [("imports", &self.imports), ("exports", &self.exports)] {
            if items.is_empty() {
                line(title, "nothing");
            }
            for (i, item) in items.iter().enumerate() {
                let family = match item.family() {
                    "other" => String::new(),
                    family => format!("{family} "),
                };
                line(
                    if i == 0 { title } else { "" },
                    &format!("{} ({family}{})", item.name, item.kind),
                );
            }
        }
        out
    }
}

/// A size rounded to a tenth of its unit: `71.2 KiB`.
fn approximate_size(bytes: u64) -> String {
    let exact = format_size(bytes);
    if !exact.ends_with("bytes") || bytes < 1024 {
        return exact;
    }
    let (value, unit) = match bytes {
        ..0x10_0000 => (bytes as f64 / 1024.0, "KiB"),
        _ => (bytes as f64 / (1024.0 * 1024.0), "MiB"),
    };
    format!("{value:.1} {unit}")
}

/// The component a command line names: a component itself, or the one a
/// manifest points at (with the manifest's pin, if any).
pub fn component_of(target: &Path) -> Result<(PathBuf, Option<String>)> {
    let loaded = LoadedManifest::from_target(target)?;
    Ok((loaded.component_path(), loaded.manifest.sha256.clone()))
}

/// `credbox inspect TARGET [--json]`: the text to print for a component,
/// or the component a manifest names. A manifest's pin is checked first,
/// as `run` would.
pub fn report(target: &Path, as_json: bool) -> Result<String> {
    let (component, pin) = component_of(target)?;
    let inspection = inspect(&component, pin.as_deref())?;
    Ok(match as_json {
        true => format!("{:#}\n", inspection.to_json()),
        false => inspection.to_text(),
    })
}

/// Inspects the component at `path` (see the module's doc). `Err` when it
/// cannot be read, differs from the `pinned` digest, or is no valid
/// component.
pub fn inspect(path: &Path, pinned: Option<&str>) -> Result<Inspection> {
    let (bytes, sha256) = engine::read_component(path, pinned, MAX_COMPONENT_SIZE)?;
    let engine = engine::new_engine()?;
    let compiled_dir = private_dir::cache_root()?.join("compiled");
    let compiled = engine::artifact_path(&engine, &compiled_dir, &sha256).is_file();
    // Loaded from the cache when it is there; compiled in memory (and not
    // stored) when it is not.
    let cache = match compiled
        .then(|| PrivateDir::open(&compiled_dir).ok())
        .flatten()
    {
        Some(dir) => engine::Artifacts::ReadOnly(dir),
        None => engine::Artifacts::Off,
    };
    let loaded = engine::load(&engine, path, &bytes, &sha256, &cache)?;
    let ty = loaded.component.component_type();
    let imports: Vec<Item> = ty
        .imports(&engine)
        .map(|(name, item)| Item {
            name: name.to_owned(),
            kind: kind(&item.ty),
        })
        .collect();
    let exports: Vec<Item> = ty
        .exports(&engine)
        .map(|(name, item)| Item {
            name: name.to_owned(),
            kind: kind(&item.ty),
        })
        .collect();
    let mut wit_versions: Vec<String> = imports
        .iter()
        .chain(&exports)
        .filter_map(|item| credbox_version(&item.name))
        .collect();
    wit_versions.sort();
    wit_versions.dedup();
    let fits = guest::check(&engine, &loaded.component, path)
        .map(drop)
        .map_err(|e| match e {
            crate::Error::Usage(message) => message,
            other => first_line(&other),
        });
    Ok(Inspection {
        component: path.to_owned(),
        size: bytes.len() as u64,
        sha256,
        compiled,
        wit_versions,
        fits,
        imports,
        exports,
    })
}

/// The version in the name of a `credbox:helper` interface:
/// `credbox:helper/types@0.1.0` → `0.1.0`.
fn credbox_version(name: &str) -> Option<String> {
    let rest = name
        .strip_prefix(version::WIT_PACKAGE_NAME)?
        .strip_prefix('/')?;
    let (_, version) = rest.split_once('@')?;
    Some(version.to_owned())
}

/// What a component item is, in a word or two.
fn kind(item: &ComponentItem) -> &'static str {
    match item {
        ComponentItem::ComponentFunc(_) => "function",
        ComponentItem::CoreFunc(_) => "core function",
        ComponentItem::Module(_) => "module",
        ComponentItem::Component(_) => "component",
        ComponentItem::ComponentInstance(_) => "interface",
        ComponentItem::Type(_) => "type",
        ComponentItem::Resource(_) => "resource",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_come_from_credbox_interface_names_only() {
        assert_eq!(
            credbox_version("credbox:helper/types@0.1.0").as_deref(),
            Some("0.1.0")
        );
        assert_eq!(
            credbox_version("credbox:helper/host@0.2.0").as_deref(),
            Some("0.2.0")
        );
        assert_eq!(credbox_version("credbox:helper/host"), None);
        assert_eq!(credbox_version("credbox:helperx/host@1.0.0"), None);
        assert_eq!(credbox_version("wasi:cli/environment@0.2.6"), None);
        assert_eq!(credbox_version("fetch"), None);
    }

    #[test]
    fn the_world_needs_exactly_one_version() {
        let mut inspection = Inspection {
            component: "x.wasm".into(),
            size: 1,
            sha256: String::new(),
            compiled: false,
            wit_versions: vec!["0.2.0".into()],
            fits: Err("no".into()),
            imports: vec![],
            exports: vec![],
        };
        assert_eq!(
            inspection.world().as_deref(),
            Some("credbox:helper/helper@0.2.0")
        );
        assert!(
            inspection
                .world_summary()
                .starts_with("credbox:helper/helper@0.2.0, which this credbox cannot run: no"),
            "{}",
            inspection.world_summary()
        );
        inspection.wit_versions.push("0.3.0".into());
        assert_eq!(inspection.world(), None);
        assert!(inspection.world_summary().starts_with("mixed: "));
        inspection.wit_versions.clear();
        assert!(inspection.world_summary().starts_with("none: "));
    }

    #[test]
    fn sizes_are_rounded_for_reading() {
        assert_eq!(approximate_size(500), "500 bytes");
        assert_eq!(approximate_size(2048), "2 KiB");
        assert_eq!(approximate_size(72_913), "71.2 KiB");
        assert_eq!(approximate_size(3 * 1024 * 1024 + 1), "3.0 MiB");
    }
}
