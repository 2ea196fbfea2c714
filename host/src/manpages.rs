//! `credbox install man`: credbox's man pages, rendered by `clap_mangen`
//! from the same [`Cli`](crate::cli::Cli) definition that parses the
//! command line and makes the shell completions, so the pages cannot
//! drift from the commands they describe.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Where `credbox install man` writes without `--dir`: the per-user man
/// folder that `man` searches by default, `$XDG_DATA_HOME/man/man1` on
/// Linux (`~/.local/share/man/man1` when unset), `~/.local/share/man/man1`
/// elsewhere. `None` without a home directory.
pub fn default_dir() -> Option<PathBuf> {
    let dirs = directories::BaseDirs::new()?;
    let share = if cfg!(target_os = "linux") {
        dirs.data_dir().to_owned()
    } else {
        dirs.home_dir().join(".local").join("share")
    };
    Some(share.join("man").join("man1"))
}

/// Writes `credbox.1` and one `credbox-SUBCOMMAND.1` for each subcommand
/// (nested ones too: `credbox-cache-clear.1`) of `command` into `dir`,
/// creating it if needed and replacing pages already there. Returns what
/// it wrote, for the user.
pub fn install(dir: &Path, command: clap::Command) -> Result<String> {
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::Usage(format!("cannot create {}: {e}", dir.display())))?;
    let mut command = command.disable_help_subcommand(true);
    command.build();
    let mut written = Vec::new();
    write_pages(command, dir, &mut written)?;
    let mut report = format!("wrote {} man pages to {}:", written.len(), dir.display());
    for name in &written {
        report += &format!(" {name}");
    }
    report += "\n";
    Ok(report)
}

/// Writes the page of `command`, then its subcommands' (hidden ones
/// left out), appending each file's name to `written`.
fn write_pages(command: clap::Command, dir: &Path, written: &mut Vec<String>) -> Result<()> {
    let man = clap_mangen::Man::new(command.clone());
    let path = dir.join(man.get_filename());
    let mut page = Vec::new();
    man.render(&mut page)
        .map_err(|e| Error::Internal(format!("cannot render {}: {e}", path.display())))?;
    std::fs::write(&path, page)
        .map_err(|e| Error::Usage(format!("cannot write {}: {e}", path.display())))?;
    written.push(man.get_filename());
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_pages(sub.clone(), dir, written)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn writes_a_page_for_credbox_and_each_subcommand() {
        let dir = tempfile::tempdir().unwrap();
        let report = install(dir.path(), crate::cli::Cli::command()).unwrap();
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        for name in [
            "credbox.1",
            "credbox-run.1",
            "credbox-cache-clear.1",
            "credbox-install-man.1",
        ] {
            assert!(names.iter().any(|n| n == name), "{name} not in {names:?}");
        }
        assert!(!names.iter().any(|n| n.contains("help")), "{names:?}");
        assert!(
            report.starts_with(&format!("wrote {} man pages to ", names.len())),
            "{report}"
        );
        let run = std::fs::read_to_string(dir.path().join("credbox-run.1")).unwrap();
        // The examples of `credbox run --help` are in its page.
        assert!(run.contains("credbox run \\-\\-format api\\-key"), "{run}");
    }
}
