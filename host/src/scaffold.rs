//! `credbox new NAME [--lang L] [--template T] [--dir DIR]`: a helper of
//! one's own, outside this repository, ready to build and run: a Rust crate
//! (the default), or a Python or JavaScript project (`--lang python`,
//! `--lang javascript`, see [`PYTHON_TEMPLATES`], [`JAVASCRIPT_TEMPLATES`]).
//!
//! Each template is a sample under `examples/`, taken from its own sources
//! when credbox is compiled (`include_str!`), so a template never drifts
//! from the sample its tests run. What a sample says for its place in this
//! workspace is rewritten for a crate that stands alone:
//!
//! - `Cargo.toml`: the package name; what it inherits from the workspace
//!   (version, edition) written out; the SDK (`credbox-guest`) by path to
//!   the copy inside the crate; an empty `[workspace]` so the crate is its
//!   own workspace wherever it is created.
//! - `credbox.toml`: the helper's name, and the component path in the
//!   crate's own `target/`.
//!
//! Beside them: `credbox-guest/`, the SDK vendored (until it is published):
//! its `src/` and the WIT its bindings read, embedded when credbox is
//! compiled (the list is made by `build.rs` from the folders, so a file
//! added to the SDK comes along), with its `Cargo.toml` standing alone and
//! its bindings reading `credbox-guest/wit/` ([`SDK_DIR`]);
//! `rust-toolchain.toml` (this repository's pin, with the `wasm32-wasip2`
//! target), `.cargo/config.toml` (`build.target`, so that `cargo build
//! --release` alone builds the component), `Cargo.lock` (the versions
//! credbox is tested with: the lock file cargo wrote, when credbox was
//! built, for the sample and the SDK alone from this repository's, so
//! `cargo build --locked` works),
//! `README.md` and `.gitignore`. Nothing in the crate names this
//! repository: it builds after the clone credbox came from is gone.
//!
//! A Python (JavaScript) project is `app.py` (`app.js`) from a sample
//! under `examples/python/` (`examples/javascript/`), the library
//! `credbox_helper.py` (`.js`), credbox's WIT with the `wasi:*` packages
//! its `helper-http` world imports (`wit/`), `credbox.toml`, `README.md`
//! (with the build command, [`Toolchain::build`]) and `.gitignore`:
//! everything componentize-py (componentize-js) needs, nothing from this
//! repository.
//!
//! Adding a template is one line in [`TEMPLATES`], [`PYTHON_TEMPLATES`]
//! or [`JAVASCRIPT_TEMPLATES`].

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::manifest;

/// A sample helper under `examples/`, as a template.
#[derive(Debug, Clone, Copy)]
pub struct Template {
    /// The template's name: the sample's folder and package name.
    pub name: &'static str,
    /// What a helper made from it does, in a line.
    pub about: &'static str,
    /// The sample's `Cargo.toml`.
    cargo_toml: &'static str,
    /// The sample's `src/lib.rs`.
    lib_rs: &'static str,
    /// The sample's `credbox.toml`.
    manifest: &'static str,
}

/// A template from `examples/<name>`: its sources, read at compile time.
macro_rules! template {
    ($name:literal, $about:literal) => {
        Template {
            name: $name,
            about: $about,
            cargo_toml: include_str!(concat!("../../examples/", $name, "/Cargo.toml")),
            lib_rs: include_str!(concat!("../../examples/", $name, "/src/lib.rs")),
            manifest: include_str!(concat!("../../examples/", $name, "/credbox.toml")),
        }
    };
}

/// Every template, the default first. One line per sample.
pub const TEMPLATES: &[Template] = &[
    template!("env-bearer", "a bearer token from an environment variable"),
    template!(
        "oauth-client-credentials",
        "an OAuth 2.0 access token for a client id and secret"
    ),
    template!(
        "vpn-aware",
        "a token from a service behind a VPN, failing fast off the VPN"
    ),
    template!(
        "api-key-secret",
        "an API key and secret as X-API-Key and X-API-Secret headers"
    ),
    template!(
        "custom-headers",
        "custom headers: X-Auth-Token, X-User-ID and X-Tenant-ID"
    ),
    template!(
        "multi-tenant",
        "one helper for several MCP servers, each with its tenant's token"
    ),
    template!(
        "mtls",
        "an OAuth 2.0 access token for a client certificate credbox holds (mTLS)"
    ),
    template!(
        "hmac-signature",
        "a timestamp signed with HMAC-SHA256 by a key credbox holds"
    ),
    template!(
        "jwt",
        "an ES256 JWT signed by a key credbox holds, as a bearer token or client assertion"
    ),
    template!(
        "oauth-device-code",
        "log in once (OAuth device flow), then refresh tokens kept in the OS keystore"
    ),
    template!(
        "proxy-auth",
        "a proxy's Proxy-Authorization, Basic or Bearer as the proxy's challenge asks"
    ),
];

/// The template used when none is named, in every language.
pub const DEFAULT_TEMPLATE: &str = "env-bearer";

/// The language of a helper `credbox new` makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// A Rust crate on the `credbox-guest` SDK, built with cargo.
    Rust,
    /// A Python project built with componentize-py.
    Python,
    /// A JavaScript project built with componentize-js.
    JavaScript,
}

impl Lang {
    /// Every language, by its `--lang` name, the default first.
    pub const ALL: [(&'static str, Lang); 3] = [
        ("rust", Lang::Rust),
        ("python", Lang::Python),
        ("javascript", Lang::JavaScript),
    ];

    /// The language called `name` (`rust`, `python`, `javascript`).
    pub fn parse(name: &str) -> Option<Lang> {
        Lang::ALL.iter().find(|(n, _)| *n == name).map(|(_, l)| *l)
    }

    /// Its `--lang` name.
    pub fn name(self) -> &'static str {
        Lang::ALL
            .iter()
            .find(|(_, l)| *l == self)
            .map_or("rust", |(n, _)| n)
    }

    /// The names of its templates, the default first.
    pub fn template_names(self) -> Vec<&'static str> {
        match self {
            Lang::Rust => TEMPLATES.iter().map(|t| t.name).collect(),
            Lang::Python => PYTHON_TEMPLATES.iter().map(|t| t.name).collect(),
            Lang::JavaScript => JAVASCRIPT_TEMPLATES.iter().map(|t| t.name).collect(),
        }
    }
}

/// What a project in a language other than Rust is made of and built
/// with: one source file, credbox's library for the language beside it,
/// and a command that builds `helper.wasm` against the `helper-http`
/// world in the project's `wit/`.
#[derive(Debug)]
pub struct Toolchain {
    /// The language, as a user reads it.
    pub language: &'static str,
    /// The `--lang` name.
    pub flag: &'static str,
    /// The helper's source file.
    pub app: &'static str,
    /// The file name of credbox's library for the language.
    pub library_file: &'static str,
    /// The library's contents.
    library: &'static str,
    /// The command that builds `helper.wasm` in the project's folder.
    pub build: &'static str,
    /// How to install the tool the command runs, at the tested release.
    pub install: &'static str,
    /// What the helper's source defines, for the README.
    app_about: &'static str,
    /// The built component's size and what it holds, for the README.
    size_about: &'static str,
    /// What `.gitignore` lists.
    gitignore: &'static str,
}

/// The command that builds a generated Python project's component,
/// `helper.wasm`, in its folder.
pub const PYTHON_BUILD: &str =
    "componentize-py -d wit -w helper-http componentize app -o helper.wasm";

/// The componentize-py release the Python library and templates are
/// tested with.
pub const COMPONENTIZE_PY: &str = "componentize-py==0.25.1";

/// Python, with componentize-py.
pub const PYTHON: Toolchain = Toolchain {
    language: "Python",
    flag: "python",
    app: "app.py",
    library_file: "credbox_helper.py",
    library: include_str!("../../examples/python/lib/credbox_helper.py"),
    build: PYTHON_BUILD,
    install: "pip install 'componentize-py==0.25.1'",
    app_about: "a class `WitWorld` (the name componentize-py looks for) deriving from \
                `credbox_helper.Helper`",
    size_about: "about 20 MB, most of it the Python interpreter",
    gitignore: "/helper.wasm\n__pycache__/\n",
};

/// JavaScript, with componentize-js (StarlingMonkey).
pub const JAVASCRIPT: Toolchain = Toolchain {
    language: "JavaScript",
    flag: "javascript",
    app: "app.js",
    library_file: "credbox_helper.js",
    library: include_str!("../../examples/javascript/lib/credbox_helper.js"),
    build: "componentize-js app.js --wit wit --world-name helper-http -o helper.wasm",
    install: "npm install -g @bytecodealliance/componentize-js@0.23.0",
    app_about: "an ES module exporting `fetch` and `login`, made by `credbox.exports` from an \
                object with `credential(request)`",
    size_about: "about 13 MB, most of it the JavaScript engine",
    gitignore: "/helper.wasm\n",
};

/// A sample under `examples/python/` or `examples/javascript/`, as a
/// template.
#[derive(Debug)]
pub struct ScriptTemplate {
    /// The template's name: the sample's folder, as the Rust sample it
    /// matches.
    pub name: &'static str,
    /// What a helper made from it does, in a line.
    pub about: &'static str,
    /// What it is built with.
    pub toolchain: &'static Toolchain,
    /// The sample's source file (`app.py`, `app.js`).
    app: &'static str,
    /// The sample's `credbox.toml`.
    manifest: &'static str,
}

/// A template from `examples/<folder>/<name>`, read at compile time.
macro_rules! script_template {
    ($toolchain:expr, $folder:literal, $app:literal, $name:literal, $about:literal) => {
        ScriptTemplate {
            name: $name,
            about: $about,
            toolchain: &$toolchain,
            app: include_str!(concat!("../../examples/", $folder, "/", $name, "/", $app)),
            manifest: include_str!(concat!(
                "../../examples/",
                $folder,
                "/",
                $name,
                "/credbox.toml"
            )),
        }
    };
}

/// Every Python template, the default first. One line per sample.
pub const PYTHON_TEMPLATES: &[ScriptTemplate] = &[
    script_template!(
        PYTHON,
        "python",
        "app.py",
        "env-bearer",
        "a bearer token from an environment variable"
    ),
    script_template!(
        PYTHON,
        "python",
        "app.py",
        "oauth-client-credentials",
        "an OAuth 2.0 access token for a client id and secret"
    ),
];

/// Every JavaScript template, the default first. One line per sample.
pub const JAVASCRIPT_TEMPLATES: &[ScriptTemplate] = &[
    script_template!(
        JAVASCRIPT,
        "javascript",
        "app.js",
        "env-bearer",
        "a bearer token from an environment variable"
    ),
    script_template!(
        JAVASCRIPT,
        "javascript",
        "app.js",
        "oauth-client-credentials",
        "an OAuth 2.0 access token for a client id and secret"
    ),
];

// `SDK_SOURCES` (`credbox-guest/src/…`), `SDK_WIT` (`credbox-guest/wit/…`)
// and `WIT_FILES` (`wit/…`: credbox's WIT and the `wasi:*` packages its
// worlds import, as written into a generated Python or JavaScript
// project), each a list of (path in the generated project, contents) that
// build.rs makes from guest-sdk/src/, wit/helper.wit and wit/deps/.
include!(concat!(env!("OUT_DIR"), "/sdk_files.rs"));

/// The Python template called `name`.
pub fn python_template(name: &str) -> Option<&'static ScriptTemplate> {
    PYTHON_TEMPLATES.iter().find(|t| t.name == name)
}

/// The JavaScript template called `name`.
pub fn javascript_template(name: &str) -> Option<&'static ScriptTemplate> {
    JAVASCRIPT_TEMPLATES.iter().find(|t| t.name == name)
}

impl ScriptTemplate {
    /// The files of a project called `name` (already checked) made from
    /// this template.
    pub fn render(&self, name: &str) -> Vec<File> {
        let tool = self.toolchain;
        let mut files = vec![
            File {
                path: tool.app,
                contents: self.app.to_owned(),
            },
            File {
                path: tool.library_file,
                contents: tool.library.to_owned(),
            },
            File {
                path: "credbox.toml",
                contents: format!("name = \"{name}\"\n{}", self.manifest),
            },
        ];
        files.extend(WIT_FILES.iter().map(|(path, contents)| File {
            path,
            contents: (*contents).to_owned(),
        }));
        files.push(File {
            path: ".gitignore",
            contents: tool.gitignore.to_owned(),
        });
        files.push(File {
            path: "README.md",
            contents: self.readme(name),
        });
        files
    }

    /// The command that runs the built helper, its variables filled with
    /// placeholders.
    pub fn run_command(&self) -> String {
        run_command(self.manifest)
    }

    fn readme(&self, name: &str) -> String {
        let tool = self.toolchain;
        format!(
            "# {name}\n\n\
             A credbox helper in {language}: {about} (made by `credbox new --lang {flag}` from \
             the `{template}` sample).\n\n\
             ## Build\n\n\
             You need the tool the first command runs: `{install}`.\n\n\
             ```console\n$ {build}\n$ credbox build credbox.toml\n```\n\n\
             The first command builds `helper.wasm` from `{app}` and `{library_file}` against \
             the world `helper-http` in `wit/` (seconds; {size}). The second checks it and \
             compiles it once into credbox's cache (10 to 45 s): do it after every build, or the \
             first `credbox run` spends its deadline compiling.\n\n\
             ## Run\n\n\
             ```console\n$ {run}\n```\n\n\
             `credbox.toml` says what the helper may do: its environment variables, config values, \
             network origins and limits. Edit it (the `[config]` URLs, the `[network] allow` list) \
             for your provider; `credbox doctor credbox.toml` checks each of them.\n\n\
             ## Files\n\n\
             - `{app}`: the helper, {app_about}.\n\
             - `{library_file}`: credbox's {language} library: configuration, logs, state, errors \
             of each kind credbox knows, and an HTTP client on `wasi:http` that always sends \
             `content-length` (a chunked body reaches many token endpoints empty).\n\
             - `wit/helper.wit`: credbox's WIT package, `credbox:helper@0.3.0`; `wit/deps/`: the \
             `wasi:*` packages its `helper-http` world imports, at the version credbox provides \
             (0.2.12).\n",
            language = tool.language,
            flag = tool.flag,
            about = self.about,
            template = self.name,
            install = tool.install,
            build = tool.build,
            app = tool.app,
            library_file = tool.library_file,
            size = tool.size_about,
            app_about = tool.app_about,
            run = self.run_command(),
        )
    }
}

/// The folder of a generated Rust crate that holds the SDK, vendored, and
/// which its `Cargo.toml` takes by path.
pub const SDK_DIR: &str = "credbox-guest";

/// The SDK's `Cargo.toml`, a member of this workspace.
const SDK_CARGO_TOML: &str = include_str!("../../guest-sdk/Cargo.toml");

/// This workspace's `Cargo.toml`: what the SDK and the samples inherit.
const WORKSPACE_CARGO_TOML: &str = include_str!("../../Cargo.toml");

/// The toolchain pin of this repository, which the SDK is tested with.
const RUST_TOOLCHAIN: &str = include_str!("../../rust-toolchain.toml");

/// The dependency versions credbox and its samples are tested with.
const CARGO_LOCK: &str = include_str!("../../Cargo.lock");

// `TEMPLATE_LOCKS`: (sample, the lock file cargo writes for it and the SDK
// alone, from `CARGO_LOCK`), made by build.rs.
include!(concat!(env!("OUT_DIR"), "/template_locks.rs"));

/// The lock file of a crate made from the sample `sample`: the one cargo
/// wrote for it at build time, else `CARGO_LOCK` (cut down by [`cut_lock`],
/// enough for a build without `--locked`).
fn template_lock(sample: &str) -> &'static str {
    TEMPLATE_LOCKS
        .iter()
        .find(|(name, _)| *name == sample)
        .map_or(CARGO_LOCK, |(_, lock)| lock)
}

/// The template called `name`.
pub fn template(name: &str) -> Option<&'static Template> {
    TEMPLATES.iter().find(|t| t.name == name)
}

/// One file of a generated crate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    /// Its path, relative to the crate's folder.
    pub path: &'static str,
    /// Its contents.
    pub contents: String,
}

/// Checks a helper's name: it becomes a Cargo package name, the crate's
/// library name (with `_` for `-`) and the component's file name.
pub fn check_name(name: &str) -> std::result::Result<(), String> {
    let reserved = [
        "test",
        "std",
        "core",
        "alloc",
        "proc_macro",
        "credbox_guest",
    ];
    let ok_chars = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if name.is_empty()
        || name.len() > 64
        || !name.starts_with(|c: char| c.is_ascii_lowercase())
        || name.ends_with(['-', '_'])
        || !ok_chars
    {
        return Err(format!(
            "`{name}` is not a helper name: use 1 to 64 lowercase letters, digits, - and _, starting with a letter"
        ));
    }
    if reserved.contains(&name.replace('-', "_").as_str()) {
        return Err(format!(
            "`{name}` is reserved by Rust or credbox; pick another name"
        ));
    }
    Ok(())
}

/// Replaces the one occurrence of `from` in `text`. The samples are the
/// templates' sources: a sample that no longer has the line a rewrite
/// expects is a credbox bug, caught by the unit tests.
fn replace_once(text: &str, from: &str, to: &str) -> String {
    assert_eq!(
        text.matches(from).count(),
        1,
        "a template lacks exactly one {from:?}"
    );
    text.replacen(from, to, 1)
}

impl Template {
    /// The files of a helper crate called `name` (already checked) made
    /// from this template: they name nothing outside the crate.
    pub fn render(&self, name: &str) -> Vec<File> {
        let lib = name.replace('-', "_");
        let sample_lib = self.name.replace('-', "_");

        let mut cargo_toml = replace_once(
            self.cargo_toml,
            &format!("name = \"{}\"", self.name),
            &format!("name = \"{name}\""),
        );
        cargo_toml = replace_once(
            &cargo_toml,
            "credbox-guest = { workspace = true }",
            &format!(
                "# credbox's SDK, vendored in this crate until it is published.\n\
                 credbox-guest = {{ path = \"{SDK_DIR}\" }}"
            ),
        );
        cargo_toml = stand_alone(&cargo_toml);
        cargo_toml +=
            "\n# This crate is a workspace of its own, wherever it is created.\n[workspace]\n";

        let mut manifest = replace_once(
            self.manifest,
            &format!("component = \"../../target/wasm32-wasip2/release/{sample_lib}.wasm\""),
            &format!("component = \"target/wasm32-wasip2/release/{lib}.wasm\""),
        );
        manifest = format!("name = \"{name}\"\n{manifest}");

        let mut files = vec![
            File {
                path: "Cargo.toml",
                contents: cargo_toml,
            },
            File {
                path: "src/lib.rs",
                contents: self.lib_rs.to_owned(),
            },
            File {
                path: "credbox.toml",
                contents: manifest,
            },
            File {
                path: "rust-toolchain.toml",
                contents: RUST_TOOLCHAIN.to_owned(),
            },
            File {
                path: ".cargo/config.toml",
                contents:
                    "# `cargo build --release` builds the component: credbox runs wasm32-wasip2.\n\
                           [build]\ntarget = \"wasm32-wasip2\"\n"
                        .to_owned(),
            },
            File {
                path: "Cargo.lock",
                contents: cut_lock(template_lock(self.name), self.name, name),
            },
            File {
                path: ".gitignore",
                contents: "/target\n".to_owned(),
            },
            File {
                path: "README.md",
                contents: self.readme(name),
            },
        ];
        files.extend(sdk_files());
        files
    }

    /// The command that runs the built helper, its variables filled with
    /// placeholders.
    pub fn run_command(&self) -> String {
        run_command(self.manifest)
    }

    fn readme(&self, name: &str) -> String {
        format!(
            "# {name}\n\n\
             A credbox helper: {about} (made by `credbox new` from the `{template}` sample).\n\n\
             ## Build\n\n\
             ```console\n$ cargo build --release\n```\n\n\
             `rust-toolchain.toml` asks rustup for the toolchain and the `wasm32-wasip2` target, and \
             `.cargo/config.toml` makes that target the default, so this builds\n\
             `target/wasm32-wasip2/release/{lib}.wasm` (the same as `cargo build --release --target wasm32-wasip2`).\n\
             If rustup says the target is not installed: `rustup target add wasm32-wasip2`.\n\n\
             ## Run\n\n\
             ```console\n$ {run}\n```\n\n\
             `credbox.toml` says what the helper may do: its environment variables, config values, \
             network origins and limits. Edit it (the `[config]` URLs, the `[network] allow` list) \
             for your provider; `credbox doctor credbox.toml` checks each of them.\n\n\
             ## The SDK\n\n\
             `{sdk}/` is credbox's SDK, `credbox-guest` {version}, vendored by `credbox new` until \
             the SDK is published: its `src/`, and in `{sdk}/wit/` the WIT package \
             `credbox:helper` and the `wasi:*` packages its bindings are generated from. \
             `Cargo.toml` takes it by path; this crate needs nothing else from credbox to build. \
             `Cargo.lock` holds the versions credbox {version} is tested with.\n",
            about = self.about,
            template = self.name,
            lib = name.replace('-', "_"),
            run = self.run_command(),
            sdk = SDK_DIR,
            version = env!("CARGO_PKG_VERSION"),
        )
    }
}

/// The SDK as vendored in a generated crate ([`SDK_DIR`]): its
/// `Cargo.toml` standing alone, its sources (the bindings reading the WIT
/// beside them, not `../wit`) and that WIT.
fn sdk_files() -> Vec<File> {
    let cargo_toml = format!(
        "# credbox's SDK, vendored by `credbox new` (credbox {}) until it is published.\n{}",
        env!("CARGO_PKG_VERSION"),
        stand_alone(SDK_CARGO_TOML)
    );
    let mut files = vec![File {
        path: "credbox-guest/Cargo.toml",
        contents: cargo_toml,
    }];
    files.extend(SDK_SOURCES.iter().map(|(path, contents)| {
        let contents = if *path == "credbox-guest/src/lib.rs" {
            replace_once(contents, "path: \"../wit\",", "path: \"wit\",")
        } else {
            (*contents).to_owned()
        };
        File { path, contents }
    }));
    files.extend(SDK_WIT.iter().map(|(path, contents)| File {
        path,
        contents: (*contents).to_owned(),
    }));
    files
}

/// `cargo_toml`, a member of this workspace, with what it inherits from
/// the workspace written out: `KEY.workspace = true` from
/// `[workspace.package]`, `DEP = { workspace = true }` from
/// `[workspace.dependencies]` (as the workspace writes it).
fn stand_alone(cargo_toml: &str) -> String {
    let workspace: toml::Table =
        toml::from_str(WORKSPACE_CARGO_TOML).expect("the workspace's Cargo.toml parses");
    let package = &workspace["workspace"]["package"];
    let dependencies = WORKSPACE_CARGO_TOML
        .split_once("\n[workspace.dependencies]\n")
        .expect("the workspace has dependencies")
        .1;
    let mut out = String::new();
    for line in cargo_toml.lines() {
        if let Some(key) = line.strip_suffix(".workspace = true") {
            let value = package
                .get(key)
                .unwrap_or_else(|| panic!("no {key} in [workspace.package]"));
            out += &format!("{key} = {value}");
        } else if let Some(dep) = line.strip_suffix(" = { workspace = true }") {
            let spec = dependencies
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{dep} = ")))
                .unwrap_or_else(|| panic!("no {dep} in [workspace.dependencies]"));
            out += &format!("{dep} = {spec}");
        } else {
            out += line;
        }
        out.push('\n');
    }
    out
}

/// One `[[package]]` of a `Cargo.lock`.
struct Locked<'a> {
    name: &'a str,
    version: &'a str,
    source: Option<&'a str>,
    /// Its lines after `name`, as written.
    lines: Vec<&'a str>,
    /// Its dependencies, as indices into the lock's packages.
    deps: Vec<usize>,
}

/// `lock` cut down to what the crate made from the sample `sample` and
/// called `name` depends on: the sample's package, renamed, and everything
/// it reaches (the SDK, a path package, among them), written as cargo
/// writes it (packages sorted by name, a dependency named by its name
/// alone when only one version of it is left). Every version stays the
/// tested one. From the lock cargo wrote for the template
/// ([`template_lock`]) this only renames and sorts. From the workspace's
/// whole `Cargo.lock` the result still lists a few dependencies cargo drops
/// on the first build (optional ones that another crate of the workspace
/// turns on, as wasmtime does `serde` of `hashbrown`), which
/// `cargo build --locked` refuses.
fn cut_lock(lock: &str, sample: &str, name: &str) -> String {
    let mut blocks = lock.split("\n[[package]]\n");
    let header = blocks.next().expect("a lock file's header").trim_end();
    let mut packages: Vec<Locked> = Vec::new();
    let mut specs: Vec<Vec<&str>> = Vec::new();
    for block in blocks {
        let lines: Vec<&str> = block.trim_end().lines().collect();
        let name = lines
            .iter()
            .find_map(|l| l.strip_prefix("name = \"")?.strip_suffix('"'))
            .expect("a locked package's name");
        let version = lines
            .iter()
            .find_map(|l| l.strip_prefix("version = \"")?.strip_suffix('"'))
            .expect("a locked package's version");
        let source = lines
            .iter()
            .find_map(|l| l.strip_prefix("source = \"")?.strip_suffix('"'));
        specs.push(
            lines
                .iter()
                .filter_map(|l| l.strip_prefix(" \"")?.strip_suffix("\","))
                .collect(),
        );
        packages.push(Locked {
            name,
            version,
            source,
            lines: lines
                .into_iter()
                .filter(|l| !l.starts_with("name = "))
                .collect(),
            deps: Vec::new(),
        });
    }
    // A dependency is `name`, `name version` or `name version (source)`.
    for (i, specs) in specs.iter().enumerate() {
        let deps = specs
            .iter()
            .map(|spec| {
                let mut parts = spec.splitn(3, ' ');
                let (dep, version) = (parts.next(), parts.next());
                let source = parts.next().map(|s| s.trim_matches(['(', ')']));
                packages
                    .iter()
                    .position(|p| {
                        Some(p.name) == dep
                            && version.is_none_or(|v| v == p.version)
                            && source.is_none_or(|s| Some(s) == p.source)
                    })
                    .unwrap_or_else(|| panic!("{spec} is not in Cargo.lock"))
            })
            .collect();
        packages[i].deps = deps;
    }
    let root = packages
        .iter()
        .position(|p| p.name == sample && p.source.is_none())
        .unwrap_or_else(|| panic!("the sample {sample} is not in Cargo.lock"));
    let mut kept = vec![false; packages.len()];
    let mut todo = vec![root];
    while let Some(i) = todo.pop() {
        if !std::mem::replace(&mut kept[i], true) {
            todo.extend(&packages[i].deps);
        }
    }
    let mut order: Vec<usize> = (0..packages.len()).filter(|&i| kept[i]).collect();
    let name_of = |i: usize| if i == root { name } else { packages[i].name };
    // Stable: packages of one name stay in cargo's order (by version).
    order.sort_by(|&a, &b| name_of(a).cmp(name_of(b)));
    let spec = |i: usize| {
        let p = &packages[i];
        let same_name = order.iter().filter(|&&j| packages[j].name == p.name);
        match same_name.clone().count() {
            1 => format!("\"{}\"", p.name),
            _ if same_name
                .filter(|&&j| packages[j].version == p.version)
                .count()
                == 1 =>
            {
                format!("\"{} {}\"", p.name, p.version)
            }
            _ => format!(
                "\"{} {} ({})\"",
                p.name,
                p.version,
                p.source.unwrap_or_default()
            ),
        }
    };
    let mut out = format!("{header}\n");
    for &i in &order {
        out += &format!("\n[[package]]\nname = \"{}\"\n", name_of(i));
        let mut deps = packages[i].deps.iter();
        for line in &packages[i].lines {
            if line.starts_with(" \"") {
                let dep = deps.next().expect("one index per dependency line");
                out += &format!(" {},\n", spec(*dep));
            } else {
                out += line;
                out.push('\n');
            }
        }
    }
    out
}

/// The environment variables `manifest` allowlists, then those its
/// `[keys]` are read from (credbox's, not the helper's).
fn env_vars(manifest: &str) -> Vec<String> {
    manifest::parse(manifest)
        .map(|m| {
            let keys = m.keys.into_values().filter_map(|key| key.env);
            m.env.allow.into_iter().chain(keys).collect()
        })
        .unwrap_or_default()
}

/// The command that runs a helper with `manifest`, its variables filled
/// with placeholders.
fn run_command(manifest: &str) -> String {
    let vars: Vec<String> = env_vars(manifest)
        .iter()
        .map(|v| format!("{v}=…"))
        .collect();
    let mut command = vars.join(" ");
    if !command.is_empty() {
        command.push(' ');
    }
    command + "credbox run credbox.toml"
}

/// What `credbox new` created.
#[derive(Debug)]
pub struct Created {
    /// The crate's folder.
    pub dir: PathBuf,
    /// The language of the helper.
    pub lang: Lang,
    /// The name of the template it was made from.
    pub template: &'static str,
    /// The files written, relative to `dir`.
    pub files: Vec<&'static str>,
    /// The commands that build and run it, in its folder.
    pub next: Vec<String>,
}

impl Created {
    /// What `credbox new` prints: what was made and the next commands.
    pub fn summary(&self) -> String {
        let lang = match self.lang {
            Lang::Rust => "",
            Lang::Python => "Python ",
            Lang::JavaScript => "JavaScript ",
        };
        // The WIT files and the vendored SDK, many and always the same, as
        // their folders.
        let mut files: Vec<&str> = Vec::new();
        for file in &self.files {
            let shown = ["wit/", "credbox-guest/"]
                .into_iter()
                .find(|folder| file.starts_with(folder))
                .unwrap_or(file);
            if !files.contains(&shown) {
                files.push(shown);
            }
        }
        let mut summary = format!(
            "Created {dir} from the {lang}{template} template: {files}.\nNext:\n  cd {dir}\n",
            dir = self.dir.display(),
            template = self.template,
            files = files.join(", "),
        );
        for command in &self.next {
            summary += &format!("  {command}\n");
        }
        summary
    }
}

/// Creates the helper `name` in `lang` from `template` (default
/// [`DEFAULT_TEMPLATE`]) in `dir` (default `./NAME`). Refuses a bad name,
/// a template the language does not have, and a `dir` that exists and is
/// not empty.
pub fn new(name: &str, lang: Lang, template: Option<&str>, dir: Option<&Path>) -> Result<Created> {
    check_name(name).map_err(Error::Usage)?;
    let template_name = template.unwrap_or(DEFAULT_TEMPLATE);
    let unknown = || {
        Error::Usage(match lang {
            Lang::Rust => format!(
                "no template `{template_name}`; pick one of {}",
                lang.template_names().join(", ")
            ),
            Lang::Python | Lang::JavaScript => format!(
                "no {} template `{template_name}` (--template with --lang {}); pick one of {}",
                if lang == Lang::Python {
                    "Python"
                } else {
                    "JavaScript"
                },
                lang.name(),
                lang.template_names().join(", ")
            ),
        })
    };
    let (template, files, next) = match lang {
        Lang::Rust => {
            let template = self::template(template_name).ok_or_else(unknown)?;
            let next = vec!["cargo build --release".to_owned(), template.run_command()];
            (template.name, template.render(name), next)
        }
        Lang::Python | Lang::JavaScript => {
            let template = match lang {
                Lang::Python => python_template(template_name),
                _ => javascript_template(template_name),
            }
            .ok_or_else(unknown)?;
            let next = vec![
                template.toolchain.build.to_owned(),
                "credbox build credbox.toml".to_owned(),
                template.run_command(),
            ];
            (template.name, template.render(name), next)
        }
    };
    let dir = dir.map_or_else(|| PathBuf::from(name), Path::to_owned);
    match std::fs::read_dir(&dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(Error::Usage(format!(
                    "{} exists and is not empty; pick a new folder with --dir",
                    dir.display()
                )));
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(Error::Usage(format!("cannot use {}: {e}", dir.display())));
        }
    }
    let io = |path: &Path, e: std::io::Error| {
        Error::Usage(format!("cannot write {}: {e}", path.display()))
    };
    for file in &files {
        let path = dir.join(file.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
        }
        std::fs::write(&path, &file.contents).map_err(|e| io(&path, e))?;
    }
    Ok(Created {
        dir,
        lang,
        template,
        files: files.iter().map(|f| f.path).collect(),
        next,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every file below `dir`, at any depth.
    fn files_under(dir: &Path) -> Vec<PathBuf> {
        let mut files = Vec::new();
        let mut todo = vec![dir.to_owned()];
        while let Some(folder) = todo.pop() {
            for entry in std::fs::read_dir(folder).unwrap() {
                let path = entry.unwrap().path();
                match path.is_dir() {
                    true => todo.push(path),
                    false => files.push(path),
                }
            }
        }
        files
    }

    #[test]
    fn every_template_renders_from_its_sample() {
        for template in TEMPLATES {
            let files = template.render("my-helper");
            let file = |path: &str| {
                files
                    .iter()
                    .find(|f| f.path == path)
                    .unwrap_or_else(|| panic!("{}: no {path}", template.name))
                    .contents
                    .clone()
            };
            let cargo = file("Cargo.toml");
            assert!(cargo.contains("name = \"my-helper\"\n"), "{cargo}");
            assert!(
                cargo.contains("\ncredbox-guest = { path = \"credbox-guest\" }\n"),
                "{cargo}"
            );
            assert!(!cargo.contains("workspace = true"), "{cargo}");
            assert!(cargo.ends_with("[workspace]\n"), "{cargo}");
            let manifest = manifest::parse(&file("credbox.toml")).unwrap();
            assert_eq!(manifest.name.as_deref(), Some("my-helper"));
            assert_eq!(
                manifest.component,
                Path::new("target/wasm32-wasip2/release/my_helper.wasm")
            );
            assert_eq!(file("src/lib.rs"), template.lib_rs);
            let readme = file("README.md");
            assert!(
                readme.contains("`credbox-guest/` is credbox's SDK"),
                "{readme}"
            );
            assert!(readme.contains("until the SDK is published"), "{readme}");
            assert!(!readme.contains("checkout"), "{readme}");
            // The vendored SDK: a package of its own, nothing inherited,
            // its bindings reading the WIT beside them.
            let sdk = file("credbox-guest/Cargo.toml");
            assert!(!sdk.contains("workspace"), "{sdk}");
            let sdk: toml::Table = toml::from_str(&sdk).unwrap();
            assert_eq!(sdk["package"]["name"].as_str(), Some("credbox-guest"));
            assert_eq!(
                sdk["package"]["version"].as_str(),
                Some(env!("CARGO_PKG_VERSION"))
            );
            assert_eq!(
                sdk["dependencies"]["wit-bindgen"]["version"].as_str(),
                Some("0.61")
            );
            assert!(file("credbox-guest/src/lib.rs").contains("path: \"wit\","));
            assert!(file("credbox-guest/wit/helper.wit").contains("\nworld helper {"));
            // The lock file: the renamed crate, the SDK, no host crate.
            assert!(
                TEMPLATE_LOCKS.iter().any(|(n, _)| *n == template.name),
                "{}: cargo wrote no lock file for it when credbox was built",
                template.name
            );
            let lock = file("Cargo.lock");
            assert!(
                lock.contains("\nname = \"my-helper\"\n"),
                "{}",
                template.name
            );
            assert!(lock.contains("\nname = \"credbox-guest\"\n"));
            assert!(!lock.contains("\nname = \"wasmtime\"\n"));
            assert!(!lock.contains(&format!("\nname = \"{}\"\n", template.name)));
            assert!(file(".cargo/config.toml").contains("target = \"wasm32-wasip2\""));
            assert!(file("rust-toolchain.toml").contains("wasm32-wasip2"));
        }
    }

    #[test]
    fn every_rust_template_written_outside_the_repository_names_nothing_in_it() {
        let repository = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .unwrap()
            .canonicalize()
            .unwrap();
        for template in TEMPLATES {
            let temp = tempfile::Builder::new()
                .prefix("credbox-new-")
                .tempdir_in(std::env::temp_dir())
                .unwrap();
            assert!(!temp.path().canonicalize().unwrap().starts_with(&repository));
            let dir = temp.path().join("h");
            let created = new("my-helper", Lang::Rust, Some(template.name), Some(&dir)).unwrap();
            assert!(created.files.contains(&"credbox-guest/src/lib.rs"));
            let written = files_under(&dir);
            for path in &written {
                let text = std::fs::read_to_string(path).unwrap();
                for needle in [repository.to_str().unwrap(), "../wit"] {
                    assert!(
                        !text.contains(needle),
                        "{}: {} names {needle}",
                        template.name,
                        path.display()
                    );
                }
            }
            assert_eq!(written.len(), created.files.len(), "{}", template.name);
        }
    }

    #[test]
    fn the_vendored_sdk_is_every_file_of_guest_sdk_and_the_wit_it_reads() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let files = sdk_files();
        let on_disk = |dir: &Path, prefix: &str| {
            files_under(dir)
                .into_iter()
                .map(|path| {
                    let relative = path.strip_prefix(dir).unwrap().to_str().unwrap();
                    (format!("{prefix}{relative}"), path.clone())
                })
                .collect::<Vec<_>>()
        };
        let mut expected = on_disk(&root.join("guest-sdk/src"), "credbox-guest/src/");
        expected.extend(on_disk(&root.join("wit/deps"), "credbox-guest/wit/deps/"));
        expected.push((
            "credbox-guest/wit/helper.wit".to_owned(),
            root.join("wit/helper.wit"),
        ));
        for (path, real) in &expected {
            let vendored = files
                .iter()
                .find(|f| f.path == path)
                .unwrap_or_else(|| panic!("{path} is not vendored"));
            let real = std::fs::read_to_string(real).unwrap();
            if path == "credbox-guest/src/lib.rs" {
                assert_eq!(
                    vendored.contents,
                    real.replace("path: \"../wit\",", "path: \"wit\",")
                );
            } else {
                assert_eq!(vendored.contents, real, "{path}");
            }
        }
        // Plus the SDK's Cargo.toml, and nothing else.
        assert_eq!(files.len(), expected.len() + 1);
        assert!(files.iter().all(|f| f.path.starts_with(SDK_DIR)));
        // Python and JavaScript projects get the same WIT.
        assert_eq!(WIT_FILES.len(), SDK_WIT.len());
    }

    #[test]
    fn every_script_template_renders_a_project_that_stands_alone() {
        for template in PYTHON_TEMPLATES.iter().chain(JAVASCRIPT_TEMPLATES) {
            let tool = template.toolchain;
            let files = template.render("my-helper");
            let file = |path: &str| {
                files
                    .iter()
                    .find(|f| f.path == path)
                    .unwrap_or_else(|| panic!("{}: no {path}", template.name))
                    .contents
                    .clone()
            };
            let manifest = manifest::parse(&file("credbox.toml")).unwrap();
            assert_eq!(manifest.name.as_deref(), Some("my-helper"));
            assert_eq!(manifest.component, Path::new("helper.wasm"));
            assert_eq!(file(tool.app), template.app);
            assert_eq!(file(tool.library_file), tool.library);
            assert!(file(tool.app).contains("credbox_helper"));
            // The world componentize-py is told to build, and every
            // package it imports, are in the project.
            assert!(file("wit/helper.wit").contains("\nworld helper-http {\n"));
            for package in [
                "cli",
                "clocks",
                "filesystem",
                "http",
                "io",
                "random",
                "sockets",
            ] {
                let wit = file(&format!("wit/deps/{package}/{package}.wit"));
                assert!(
                    wit.starts_with(&format!("package wasi:{package}@0.2.12;")),
                    "{package}"
                );
            }
            let readme = file("README.md");
            assert!(readme.contains(&format!("$ {}\n", tool.build)), "{readme}");
            assert!(readme.contains(tool.install), "{readme}");
            assert!(readme.contains(&template.run_command()), "{readme}");
            // Nothing points back into this repository.
            for f in &files {
                assert!(
                    !f.contents.contains("../../"),
                    "{}: {}",
                    template.name,
                    f.path
                );
            }
        }
    }

    #[test]
    fn every_script_sample_is_a_template_of_a_rust_sample() {
        for (lang, tool) in [(Lang::Python, &PYTHON), (Lang::JavaScript, &JAVASCRIPT)] {
            let examples =
                Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../examples/{}", tool.flag));
            let mut samples = Vec::new();
            for entry in std::fs::read_dir(examples).unwrap() {
                let dir = entry.unwrap().path();
                if dir.join(tool.app).is_file() {
                    samples.push(dir.file_name().unwrap().to_str().unwrap().to_owned());
                }
            }
            samples.sort();
            let mut names = lang.template_names();
            names.sort();
            assert_eq!(samples, names);
            for name in names {
                assert!(template(name).is_some(), "{name} has no Rust sample");
            }
            assert_eq!(lang.template_names()[0], DEFAULT_TEMPLATE);
            assert_eq!(lang.name(), tool.flag);
        }
    }

    #[test]
    fn a_template_a_language_lacks_is_refused_naming_the_flags() {
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path().join("p");
        let err = new("p", Lang::Python, Some("vpn-aware"), Some(&dir)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "no Python template `vpn-aware` (--template with --lang python); \
             pick one of env-bearer, oauth-client-credentials"
        );
        assert!(!dir.exists());
        let created = new("p", Lang::Python, None, Some(&dir)).unwrap();
        assert!(dir.join("wit/deps/http/http.wit").is_file());
        assert_eq!(
            created.summary(),
            format!(
                "Created {d} from the Python env-bearer template: app.py, credbox_helper.py, \
                 credbox.toml, wit/, .gitignore, README.md.\nNext:\n  cd {d}\n  {PYTHON_BUILD}\n  \
                 credbox build credbox.toml\n  API_TOKEN=… credbox run credbox.toml\n",
                d = dir.display()
            )
        );
        let err = new("j", Lang::JavaScript, Some("jwt"), Some(&dir)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "no JavaScript template `jwt` (--template with --lang javascript); \
             pick one of env-bearer, oauth-client-credentials"
        );
        for (name, lang) in Lang::ALL {
            assert_eq!(Lang::parse(name), Some(lang));
            assert_eq!(lang.name(), name);
        }
        assert_eq!(Lang::parse("cobol"), None);
    }

    #[test]
    fn every_sample_is_a_template() {
        let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
        for entry in std::fs::read_dir(examples).unwrap() {
            let dir = entry.unwrap().path();
            if dir.join("credbox.toml").is_file() && dir.join("src/lib.rs").is_file() {
                let name = dir.file_name().unwrap().to_str().unwrap();
                assert!(template(name).is_some(), "examples/{name} has no template");
            }
        }
    }

    #[test]
    fn names_are_checked() {
        for good in ["a", "my-helper", "okta_sso2"] {
            assert_eq!(check_name(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "My",
            "1up",
            "-x",
            "x-",
            "a b",
            "a/b",
            "..",
            "é",
            &"a".repeat(65),
        ] {
            let err = check_name(bad).unwrap_err();
            assert!(err.contains("is not a helper name"), "{bad}: {err}");
        }
        assert!(check_name("test").unwrap_err().contains("reserved"));
        assert!(
            check_name("credbox-guest")
                .unwrap_err()
                .contains("reserved")
        );
    }

    #[test]
    fn an_existing_folder_is_never_overwritten() {
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path().join("h");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("keep.txt"), "mine").unwrap();
        let err = new("h", Lang::Rust, None, Some(&dir)).unwrap_err();
        assert!(err.to_string().contains("exists and is not empty"), "{err}");
        assert_eq!(
            std::fs::read_to_string(dir.join("keep.txt")).unwrap(),
            "mine"
        );
        assert!(!dir.join("Cargo.toml").exists());

        // An empty folder is fine.
        let empty = temp.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        let created = new(
            "h",
            Lang::Rust,
            Some("oauth-client-credentials"),
            Some(&empty),
        )
        .unwrap();
        assert!(empty.join("credbox.toml").is_file());
        assert!(
            created
                .summary()
                .contains("CLIENT_ID=… CLIENT_SECRET=… credbox run credbox.toml")
        );

        let err = new("h", Lang::Rust, Some("nope"), Some(&temp.path().join("x"))).unwrap_err();
        assert!(
            err.to_string().contains("pick one of env-bearer, "),
            "{err}"
        );
    }
}
