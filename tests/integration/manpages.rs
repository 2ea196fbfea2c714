//! `credbox install man`: the man pages, made from the command line's own
//! definitions, written where `man` looks, and readable by `man`.

use std::process::{Command, Stdio};

use crate::support::util::credbox;

/// Every visible subcommand, as its man page is named.
const PAGES: &[&str] = &[
    "credbox.1",
    "credbox-aws.1",
    "credbox-build.1",
    "credbox-cache.1",
    "credbox-cache-clear.1",
    "credbox-cargo.1",
    "credbox-completions.1",
    "credbox-docker.1",
    "credbox-doctor.1",
    "credbox-gcp.1",
    "credbox-git.1",
    "credbox-inspect.1",
    "credbox-install.1",
    "credbox-install-docker.1",
    "credbox-install-keyring.1",
    "credbox-install-man.1",
    "credbox-k8s.1",
    "credbox-keyring.1",
    "credbox-login.1",
    "credbox-logout.1",
    "credbox-new.1",
    "credbox-run.1",
    "credbox-status.1",
];

fn listing(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn install_man_writes_one_page_per_subcommand_into_dir() {
    let dir = tempfile::tempdir().unwrap();
    let man1 = dir.path().join("man").join("man1");
    let out = credbox(&["install", "man", "--dir", man1.to_str().unwrap()], &[]);
    let report = out.ok();
    assert!(out.stderr.is_empty(), "{out:#?}");
    assert!(
        report.starts_with(&format!(
            "wrote {} man pages to {}:",
            PAGES.len(),
            man1.display()
        )),
        "{report}"
    );
    let mut expected: Vec<String> = PAGES.iter().map(|p| p.to_string()).collect();
    expected.sort();
    assert_eq!(listing(&man1), expected);
    // Each page is roff for its own command, with its examples.
    let run = std::fs::read_to_string(man1.join("credbox-run.1")).unwrap();
    assert!(run.starts_with(".ie \\n(.g .ds Aq"), "{run}");
    assert!(run.contains(".TH credbox-run 1"), "{run}");
    assert!(run.contains("\\-\\-allow\\-env"), "{run}");
    assert!(run.contains("credbox run \\-\\-format api\\-key"), "{run}");
    // Run again: the pages are replaced, nothing is added.
    credbox(&["install", "man", "--dir", man1.to_str().unwrap()], &[]).ok();
    assert_eq!(listing(&man1), expected);

    // `man -l` renders one, when man is installed (not required).
    let rendered = Command::new("man")
        .arg("-l")
        .arg(man1.join("credbox-install-man.1"))
        .env("MANPAGER", "cat")
        .env("PAGER", "cat")
        .stdin(Stdio::null())
        .output();
    match rendered {
        Ok(r) if r.status.success() => {
            let text = String::from_utf8_lossy(&r.stdout);
            assert!(text.contains("credbox install man --dir"), "{text}");
        }
        _ => eprintln!("note: no working `man -l` here; the pages were not rendered"),
    }
}

#[test]
fn install_man_defaults_to_the_users_man_folder() {
    let home = tempfile::tempdir().unwrap();
    let home_str = home.path().to_str().unwrap();
    let out = credbox(&["install", "man"], &[("HOME", home_str)]);
    out.ok();
    let man1 = home.path().join(".local/share/man/man1");
    assert_eq!(listing(&man1).len(), PAGES.len());
    // $XDG_DATA_HOME wins on Linux.
    let data = home.path().join("data");
    let out = credbox(
        &["install", "man"],
        &[
            ("HOME", home_str),
            ("XDG_DATA_HOME", data.to_str().unwrap()),
        ],
    );
    out.ok();
    assert_eq!(listing(&data.join("man/man1")).len(), PAGES.len());
}

#[test]
fn install_man_into_a_file_fails_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    let out = credbox(&["install", "man", "--dir", file.to_str().unwrap()], &[]);
    out.fails(2, "cannot create");
}

/// The names of every visible subcommand, as command lines (`cache
/// clear`), from the same definition the binary parses.
fn subcommands() -> Vec<Vec<String>> {
    fn walk(command: &clap::Command, path: &[String], all: &mut Vec<Vec<String>>) {
        for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
            let mut here = path.to_vec();
            here.push(sub.get_name().to_owned());
            all.push(here.clone());
            walk(sub, &here, all);
        }
    }
    let mut all = Vec::new();
    walk(
        &<credbox::cli::Cli as clap::CommandFactory>::command(),
        &[],
        &mut all,
    );
    all
}

#[test]
fn every_subcommands_help_shows_examples_of_itself() {
    let all = subcommands();
    assert!(all.len() >= 19, "{all:?}");
    for path in all {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let out = credbox(&args, &[]);
        let help = out.ok();
        let (_, examples) = help
            .split_once("\nExamples:\n")
            .unwrap_or_else(|| panic!("`credbox {}` has no examples:\n{help}", path.join(" ")));
        // Each example names the command it is an example of (or the
        // client setting that runs it).
        let name = path.last().unwrap();
        assert!(examples.contains(name.as_str()), "{path:?}: {examples}");
        // `credbox help CMD` shows the same.
        let mut via_help = vec!["help"];
        via_help.extend(path.iter().map(String::as_str));
        assert_eq!(credbox(&via_help, &[]).ok(), help, "{path:?}");
    }
}
