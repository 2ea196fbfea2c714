//! `credbox --version` and `credbox completions SHELL`.

use std::process::{Command, Stdio};

use crate::support::util::credbox;

#[test]
fn version_names_wasmtime_and_the_wit_package() {
    let out = credbox(&["--version"], &[]);
    let expected = format!(
        "credbox {} (wasmtime {}, {})\n",
        credbox::version::CREDBOX,
        credbox::version::WASMTIME,
        credbox::version::WIT_PACKAGE
    );
    assert_eq!(out.ok(), expected);
    // The numbers themselves, not only the shape: what Cargo.lock and the
    // WIT file say.
    assert!(expected.contains("(wasmtime 48."), "{expected}");
    assert!(expected.contains(", credbox:helper@0.3.0)"), "{expected}");
}

/// What bash's completion for `credbox` offers after `words` (the last one
/// being completed), through the script `credbox completions bash` printed.
fn bash_completes(script: &str, words: &[&str]) -> Vec<String> {
    let words: Vec<String> = words.iter().map(|w| format!("{w:?}")).collect();
    let program = format!(
        "{script}\nCOMP_WORDS=({words}); COMP_CWORD={cword}; COMP_LINE=\"${{COMP_WORDS[*]}}\"; \
         COMP_POINT=${{#COMP_LINE}}; _credbox credbox \"${{COMP_WORDS[-1]}}\" \"${{COMP_WORDS[-2]}}\"; \
         printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        words = words.join(" "),
        cword = words.len() - 1,
    );
    let out = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &program])
        .stdin(Stdio::null())
        .output()
        .expect("bash runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn bash_completes_subcommands_and_their_values() {
    let out = credbox(&["completions", "bash"], &[]);
    let script = out.ok();
    assert!(out.stderr.is_empty(), "{out:#?}");
    // Real bash, running the script: subcommands, then a flag's values.
    let offered = bash_completes(script, &["credbox", "comp"]);
    assert_eq!(offered, ["completions"]);
    let offered = bash_completes(script, &["credbox", ""]);
    for command in [
        "run",
        "build",
        "new",
        "doctor",
        "inspect",
        "completions",
        "status",
    ] {
        assert!(
            offered.iter().any(|o| o == command),
            "{command}: {offered:?}"
        );
    }
    let offered = bash_completes(script, &["credbox", "completions", ""]);
    for shell in ["bash", "zsh", "fish"] {
        assert!(offered.iter().any(|o| o == shell), "{shell}: {offered:?}");
    }
    let offered = bash_completes(script, &["credbox", "run", "--format", ""]);
    assert_eq!(offered, ["headers", "api-key", "proxy-authorization"]);
}

#[test]
fn zsh_and_fish_scripts_are_printed() {
    // No zsh or fish on the CI machine to run them; their scripts must at
    // least be the shells' own formats, naming credbox's subcommands.
    let zsh = credbox(&["completions", "zsh"], &[]);
    assert!(zsh.ok().starts_with("#compdef credbox\n"), "{zsh:#?}");
    assert!(
        zsh.stdout
            .contains("\n'completions:Print a shell completion script"),
        "{zsh:#?}"
    );
    let fish = credbox(&["completions", "fish"], &[]);
    assert!(
        fish.ok()
            .contains("complete -c credbox -n \"__fish_credbox_needs_command\""),
        "{fish:#?}"
    );
    assert!(fish.stdout.contains("-a \"completions\""), "{fish:#?}");

    let out = credbox(&["completions", "tcsh"], &[]);
    out.fails(2, "invalid value 'tcsh'");
}
