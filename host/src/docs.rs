//! Tests that keep the documentation true: the README and the book under
//! `docs/` are checked against the code they describe, so that a change on
//! one side only fails here.
//!
//! - Every manifest key is documented in the book's manifest reference
//!   (`docs/src/manifest/`), and every key documented there exists. The
//!   real keys come from serde itself: the manifest's tables deny unknown
//!   fields, and an unknown field's error lists the fields it expected.
//! - The book's exit-code table (`docs/src/exit-codes.md`) gives each
//!   [`Error`] variant the code [`Error::exit_code`] gives it.
//! - The README's first command is the one `.ci/run` runs, and the book's
//!   getting-started page shows the README's two commands.
//! - Every relative link in `README.md` and `docs/src/` leads to a file
//!   that exists and, with an `#anchor`, to one of its headings.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::Error;
use crate::manifest::Manifest;

/// The repository's root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The lines of `text` outside fenced code blocks, with their numbers.
fn prose(text: &str) -> Vec<(usize, &str)> {
    let mut fenced = false;
    let mut lines = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        } else if !fenced {
            lines.push((i + 1, line));
        }
    }
    lines
}

/// The headings of a Markdown text: (level, text).
fn headings(text: &str) -> Vec<(usize, String)> {
    prose(text)
        .into_iter()
        .filter_map(|(_, line)| {
            let level = line.chars().take_while(|&c| c == '#').count();
            let rest = line.get(level..)?.strip_prefix(' ')?;
            (1..=6)
                .contains(&level)
                .then(|| (level, rest.trim().to_owned()))
        })
        .collect()
}

/// The names in backquotes in `text`, in order.
fn quoted(text: &str) -> Vec<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

// ---- manifest keys ----

/// The manifest's tables as the book names them in its pages' titles,
/// each with a manifest that puts an unknown field in it. `[config]` takes
/// any key, so it has none.
const TABLES: &[(&str, &str)] = &[
    ("", "component = \"x\"\nzz_unknown = 1\n"),
    ("limits", "component = \"x\"\n[limits]\nzz_unknown = 1\n"),
    ("env", "component = \"x\"\n[env]\nzz_unknown = 1\n"),
    ("cache", "component = \"x\"\n[cache]\nzz_unknown = 1\n"),
    ("network", "component = \"x\"\n[network]\nzz_unknown = 1\n"),
    (
        "network.client_cert",
        "component = \"x\"\n[[network.client_cert]]\nzz_unknown = 1\n",
    ),
    ("keys.NAME", "component = \"x\"\n[keys.k]\nzz_unknown = 1\n"),
    ("state", "component = \"x\"\n[state]\nzz_unknown = 1\n"),
];

/// The keys the code accepts in each table, from serde's error about an
/// unknown field: "unknown field `zz_unknown`, expected one of `a`, `b`"
/// (or "expected `a`", "expected `a` or `b`").
fn keys_in_code() -> BTreeMap<String, BTreeSet<String>> {
    TABLES
        .iter()
        .map(|(table, toml_text)| {
            let error = toml::from_str::<Manifest>(toml_text)
                .expect_err("an unknown field is an error")
                .to_string();
            let (_, expected) = error
                .split_once("expected")
                .unwrap_or_else(|| panic!("[{table}]: {error}"));
            let keys: BTreeSet<String> = quoted(expected).into_iter().collect();
            assert!(!keys.is_empty(), "[{table}]: {error}");
            (table.to_string(), keys)
        })
        .collect()
}

/// The table a manifest reference page documents, from its title:
/// "Top-level keys", "`[limits]`", "`[[network.client_cert]]`".
fn page_table(title: &str) -> Option<String> {
    if title == "Top-level keys" {
        return Some(String::new());
    }
    let name = quoted(title).into_iter().next()?;
    Some(name.trim_matches(|c| c == '[' || c == ']').to_owned())
}

/// The keys the book documents in each table: the backquoted level-2
/// headings of its page, and, for a table holding others, the first part
/// of each inner table's name (`network` holds `client_cert`).
fn keys_in_book() -> BTreeMap<String, BTreeSet<String>> {
    let dir = root().join("docs/src/manifest");
    let mut pages = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().is_some_and(|n| n == "index.md") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let heads = headings(&text);
        let title = heads.iter().find(|(level, _)| *level == 1);
        let title = title.map(|(_, t)| t.as_str()).unwrap_or_default();
        let table = page_table(title)
            .unwrap_or_else(|| panic!("{}: title {title:?} names no table", path.display()));
        let keys: BTreeSet<String> = heads
            .iter()
            .filter(|(level, head)| *level == 2 && head.starts_with('`'))
            .filter_map(|(_, head)| quoted(head).into_iter().next())
            .collect();
        assert!(
            pages.insert(table.clone(), keys).is_none(),
            "two pages document [{table}]"
        );
    }
    let tables: Vec<String> = pages.keys().cloned().collect();
    for inner in &tables {
        if inner.is_empty() {
            continue;
        }
        let (outer, rest) = inner.rsplit_once('.').unwrap_or(("", inner));
        // `keys.NAME` is the top level's `keys`.
        let (outer, key) = match rest {
            "NAME" => outer.rsplit_once('.').map_or(("", outer), |(o, k)| (o, k)),
            key => (outer, key),
        };
        if let Some(keys) = pages.get_mut(outer) {
            keys.insert(key.to_owned());
        }
    }
    pages
}

#[test]
fn manifest_keys_are_the_documented_keys() {
    let code = keys_in_code();
    let book = keys_in_book();
    let mut problems = Vec::new();
    for (table, keys) in &code {
        let Some(documented) = book.get(table) else {
            problems.push(format!("[{table}] has no page in docs/src/manifest/"));
            continue;
        };
        for key in keys.difference(documented) {
            problems.push(format!("[{table}] {key} exists but is not documented"));
        }
        for key in documented.difference(keys) {
            problems.push(format!("[{table}] {key} is documented but does not exist"));
        }
    }
    for table in book.keys() {
        if !code.contains_key(table) && table != "config" {
            problems.push(format!(
                "docs/src/manifest/ documents [{table}], not a table"
            ));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

// ---- exit codes ----

/// The variant's name, for every variant but [`Error::CachedFailure`]
/// (which keeps the code of the failure it remembers). A new variant does
/// not compile here until it is named.
fn variant(error: &Error) -> Option<&'static str> {
    Some(match error {
        Error::Usage(_) => "Usage",
        Error::Misconfigured(_) => "Misconfigured",
        Error::LoginNeeded { .. } => "LoginNeeded",
        Error::Denied(_) => "Denied",
        Error::Unavailable(_) => "Unavailable",
        Error::NotFound(_) => "NotFound",
        Error::FuelExhausted(_) => "FuelExhausted",
        Error::DeadlineExceeded(_) => "DeadlineExceeded",
        Error::CompileTimeout(_) => "CompileTimeout",
        Error::ResourcesExceeded(_) => "ResourcesExceeded",
        Error::MemoryExceeded(_) => "MemoryExceeded",
        Error::InvalidOutput(_) => "InvalidOutput",
        Error::HelperFailed(_) => "HelperFailed",
        Error::HelperError(_) => "HelperError",
        Error::RequestDenied { .. } => "RequestDenied",
        Error::Environment { .. } => "Environment",
        Error::Internal(_) => "Internal",
        Error::CachedFailure { .. } => return None,
    })
}

/// One error of each variant.
fn every_error() -> Vec<Error> {
    let s = || String::from("x");
    vec![
        Error::Usage(s()),
        Error::Misconfigured(s()),
        Error::LoginNeeded {
            message: s(),
            manifest: s(),
        },
        Error::Denied(s()),
        Error::Unavailable(s()),
        Error::NotFound(s()),
        Error::FuelExhausted(1),
        Error::DeadlineExceeded(Duration::from_secs(1)),
        Error::CompileTimeout(Duration::from_secs(1)),
        Error::ResourcesExceeded(1),
        Error::MemoryExceeded(1),
        Error::InvalidOutput(s()),
        Error::HelperFailed(s()),
        Error::HelperError(s()),
        Error::RequestDenied {
            url: s(),
            reason: s(),
        },
        Error::Environment {
            message: s(),
            hint: s(),
        },
        Error::Internal(s()),
    ]
}

/// The book's table: each variant named in the third column, with the
/// code in the first.
fn exit_codes_in_book() -> BTreeMap<String, u8> {
    let text = read("docs/src/exit-codes.md");
    let mut codes = BTreeMap::new();
    for (_, line) in prose(&text) {
        let cells: Vec<&str> = line.split(" | ").map(str::trim).collect();
        let Some(code) = cells
            .first()
            .and_then(|c| c.trim_start_matches("| ").parse::<u8>().ok())
        else {
            continue;
        };
        for name in cells.get(2).map(|c| quoted(c)).unwrap_or_default() {
            assert!(
                codes.insert(name.clone(), code).is_none(),
                "{name} is in two rows"
            );
        }
    }
    codes
}

#[test]
fn exit_code_table_matches_error_exit_code() {
    let book = exit_codes_in_book();
    let errors = every_error();
    let mut problems = Vec::new();
    let mut named = BTreeSet::new();
    for error in &errors {
        let name = variant(error).expect("every_error has no CachedFailure");
        named.insert(name);
        match book.get(name) {
            None => problems.push(format!(
                "{name} (exit {}) is not in the table",
                error.exit_code()
            )),
            Some(&code) if code != error.exit_code() => problems.push(format!(
                "{name}: the book says {code}, Error::exit_code says {}",
                error.exit_code()
            )),
            Some(_) => {}
        }
    }
    for name in book.keys() {
        if !named.contains(name.as_str()) {
            problems.push(format!("the table names {name}, not a variant"));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
    // A remembered failure keeps the code it had.
    let cached = Error::CachedFailure {
        message: "x".into(),
        exit_code: 5,
        hint: String::new(),
        retry_in: Duration::from_secs(1),
    };
    assert_eq!(cached.exit_code(), 5);
}

// ---- the README's commands ----

/// The commands of the console blocks of `text`: the lines after `$ `.
fn console_commands(text: &str) -> Vec<String> {
    let mut commands = Vec::new();
    let mut console = false;
    for line in text.lines() {
        if line.starts_with("```") {
            console = line == "```console";
        } else if console && let Some(command) = line.strip_prefix("$ ") {
            commands.push(command.to_owned());
        }
    }
    commands
}

#[test]
fn the_readme_starts_with_the_two_commands_ci_runs() {
    let readme = read("README.md");
    let commands = console_commands(&readme);
    let (one, two) = (&commands[0], &commands[1]);
    assert_eq!(two, "cargo test --release");
    // .ci/run runs command 1 as `out=$(COMMAND)` and command 2 as is.
    let ci = read(".ci/run");
    let ci_one = ci
        .lines()
        .find_map(|l| l.strip_prefix("out=$(")?.strip_suffix(')'))
        .expect(".ci/run runs command 1 as out=$(…)");
    assert_eq!(one, ci_one, "README command 1 differs from .ci/run's");
    assert!(ci.lines().any(|l| l == two), ".ci/run does not run {two:?}");
    // Its expected output is the README's.
    let shown = readme
        .lines()
        .skip_while(|l| l.strip_prefix("$ ") != Some(one))
        .nth(1)
        .unwrap();
    assert!(
        ci.contains(&format!("test \"$out\" = '{shown}'")),
        ".ci/run does not expect {shown:?}"
    );
    // The book's getting started shows the same two, first.
    let book = console_commands(&read("docs/src/getting-started.md"));
    assert_eq!(&book[..2], &commands[..2]);
}

// ---- links ----

/// The id mdBook (and, but for rare characters, GitHub) gives a heading:
/// lower case, spaces to `-`, only letters, digits, `-` and `_` kept.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// The anchors of a Markdown file's headings (a repeated one gets `-1`,
/// `-2`…).
fn anchors(text: &str) -> BTreeSet<String> {
    let mut seen = BTreeMap::<String, usize>::new();
    headings(text)
        .into_iter()
        .map(|(_, h)| {
            let id = anchor(&h);
            let n = seen.entry(id.clone()).or_default();
            *n += 1;
            if *n == 1 {
                id
            } else {
                format!("{id}-{}", *n - 1)
            }
        })
        .collect()
}

/// The targets of the inline links `[text](target)` of a Markdown text's
/// prose (not in code), with their line numbers.
fn links(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (n, line) in prose(text) {
        // Code spans hold no links.
        let line: String = line.split('`').step_by(2).collect::<Vec<_>>().join("");
        let mut rest = line.as_str();
        while let Some(at) = rest.find("](") {
            rest = &rest[at + 2..];
            if let Some(end) = rest.find(')') {
                found.push((n, rest[..end].to_owned()));
                rest = &rest[end..];
            }
        }
    }
    found
}

fn markdown_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, files: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, files);
            } else if path.extension().is_some_and(|e| e == "md") {
                files.push(path);
            }
        }
    }
    let mut files = vec![root().join("README.md")];
    walk(&root().join("docs/src"), &mut files);
    files
}

#[test]
fn every_relative_link_resolves() {
    let mut problems = Vec::new();
    let mut checked = 0;
    for file in markdown_files() {
        let text = std::fs::read_to_string(&file).unwrap();
        let shown = file
            .strip_prefix(root())
            .unwrap_or(&file)
            .display()
            .to_string();
        for (line, target) in links(&text) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            checked += 1;
            let (path, fragment) = match target.split_once('#') {
                Some((path, fragment)) => (path, Some(fragment)),
                None => (target.as_str(), None),
            };
            let resolved = match path {
                "" => file.clone(),
                path => file.parent().unwrap().join(path),
            };
            if !resolved.exists() {
                problems.push(format!("{shown}:{line}: {target}: no such file"));
                continue;
            }
            // mdBook renders a page README.md as index.html but links to it
            // as README.html: the book's pages are named index.md instead.
            let in_book = |p: &Path| p.starts_with(root().join("docs/src"));
            if in_book(&file) && in_book(&resolved) && path.ends_with("README.md") {
                problems.push(format!("{shown}:{line}: {target}: name the page index.md"));
            }
            let Some(fragment) = fragment else { continue };
            let heads = std::fs::read_to_string(&resolved).map(|t| anchors(&t));
            if !heads.is_ok_and(|heads| heads.contains(fragment)) {
                problems.push(format!("{shown}:{line}: {target}: no such heading"));
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
    assert!(
        checked > 100,
        "only {checked} links found: is the parser broken?"
    );
}

/// Every page of the book is in its table of contents.
#[test]
fn every_page_is_in_the_summary() {
    let summary = read("docs/src/SUMMARY.md");
    let listed: BTreeSet<String> = links(&summary).into_iter().map(|(_, t)| t).collect();
    let src = root().join("docs/src");
    for file in markdown_files().into_iter().skip(1) {
        let page = file
            .strip_prefix(&src)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        if page != "SUMMARY.md" {
            assert!(listed.contains(&page), "{page} is not in SUMMARY.md");
        }
    }
}

#[test]
fn the_link_checker_finds_links_and_anchors() {
    let text =
        "# A `b` c!\n\n## A b c!\n\nsee [x](y.md#z) and `[no](link)`\n```\n[no](code)\n```\n";
    assert_eq!(links(text), [(5, "y.md#z".to_owned())]);
    assert_eq!(
        anchors(text),
        BTreeSet::from(["a-b-c".to_owned(), "a-b-c-1".to_owned()])
    );
    assert_eq!(anchor("`[limits]` fuel"), "limits-fuel");
}
