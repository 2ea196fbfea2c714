//! The last step of the flow: from a client's request to the bytes on
//! stdout, one path for every client.
//!
//! Each front end (`credbox run` in [`crate::protocol::run`], and git,
//! Docker, AWS, Kubernetes and Cargo in [`crate::protocol`]) parses its
//! client's input into a [`Request`] and says how its client hears "not
//! mine" ([`NotMine`]) and failures ([`Manner`]); then [`serve`] does the
//! rest, the same way for all:
//!
//! 1. [`Helper::resolve`]: the manifest named on the command line, else
//!    the user's route for the URL asked about ([`crate::routes`]), read
//!    into a policy;
//! 2. [`Helper::fetch`]: the credential from the cache or the helper
//!    ([`crate::run`]), refreshing ahead of expiry in a detached credbox
//!    that gets a [`Ticket`] (see [`crate::refresh`]);
//! 3. the front end's `render`, then the answer and any warning written
//!    through [`Out`], or the one-line failure ([`Error::report`]).
//!
//! Cargo's provider answers every failure in its own JSON, so it stops
//! after step 2 ([`answer`]) and renders the [`Reply`] itself.
//!
//! [`refresh_child`] is the other end of the ticket: the hidden entry
//! point of the background refresh.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::guest::RunOptions;
use crate::manifest::LoadedManifest;
use crate::policy::{Overrides, Policy};
use crate::redact::{MAX_LINE, one_line};
use crate::refresh::{Handed, Refresh, Ticket};
use crate::request::Request;
use crate::routes::RequestUrl;
use crate::validation::Credential;

/// Where a front end writes: its client reads `stdout`, a person reads
/// `stderr`. Every credbox message is one line, `credbox: NAME: …`.
pub struct Out<'a> {
    stdout: &'a mut dyn Write,
    stderr: &'a mut dyn Write,
}

impl<'a> Out<'a> {
    /// Writes to `stdout` and `stderr` (the process's own, or buffers in
    /// tests).
    pub fn new(stdout: &'a mut dyn Write, stderr: &'a mut dyn Write) -> Out<'a> {
        Out { stdout, stderr }
    }

    /// Writes the answer `text` on stdout; 0, or 1 (with a line about
    /// `helper` on stderr) when stdout is gone.
    pub fn answer(&mut self, helper: &str, text: &str) -> u8 {
        match self
            .stdout
            .write_all(text.as_bytes())
            .and_then(|()| self.stdout.flush())
        {
            Ok(()) => 0,
            // Not a credbox bug: whoever started credbox stopped reading
            // (SIGPIPE is ignored, so this is an error, not a kill).
            Err(e) => {
                self.line(&format!(
                    "credbox: {}: cannot write to stdout: {e} (the program that ran credbox stopped reading; nothing to fix here unless it keeps happening)",
                    name(helper)
                ));
                1
            }
        }
    }

    /// Writes `error`'s one line about `subject` on stderr and returns its
    /// exit code.
    pub fn fail(&mut self, subject: &str, error: &Error) -> u8 {
        self.line(&error.report(subject));
        error.exit_code()
    }

    /// Writes a run's warning about `helper`, if any, on stderr.
    pub fn warn(&mut self, helper: &str, warning: Option<&str>) {
        if let Some(warning) = warning {
            self.line(&format!(
                "credbox: {}: warning: {}",
                name(helper),
                one_line(warning, MAX_LINE)
            ));
        }
    }

    /// Writes `what` about `subject` on stderr as credbox's own line
    /// (`credbox: SUBJECT: WHAT`), both cut to one line.
    pub fn say(&mut self, subject: &str, what: &str) {
        self.line(&format!(
            "credbox: {}: {}",
            name(subject),
            one_line(what, MAX_LINE)
        ));
    }

    /// Writes `line` and a line break on stderr. A lost stderr is not
    /// reported anywhere: there is nowhere left to.
    pub fn line(&mut self, line: &str) {
        let _ = writeln!(self.stderr, "{line}");
    }

    /// Writes `text` on stdout as it is (a report, not a credential);
    /// 0, or 1 when stdout is gone.
    pub fn print(&mut self, subject: &str, text: &str) -> u8 {
        self.answer(subject, text)
    }

    /// The client's stdout, for a protocol that writes several answers
    /// (Cargo's).
    pub fn stdout(&mut self) -> &mut dyn Write {
        self.stdout
    }
}

/// A helper's name as printed: one line, at most 128 bytes.
pub fn name(helper: &str) -> String {
    one_line(helper, 128)
}

/// Which helper answers: the manifest on the command line, else the
/// user's route for the URL the client asks about.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// The manifest or bare component named on the command line.
    pub named: Option<&'a Path>,
    /// The URL to route by when none is named.
    pub url: Option<&'a RequestUrl>,
}

impl<'a> Target<'a> {
    /// The manifest or component at `path`.
    pub fn named(path: &'a Path) -> Target<'a> {
        Target {
            named: Some(path),
            url: None,
        }
    }
}

/// A failure to report about `subject` (a helper's name, a manifest's
/// path, `routes`).
#[derive(Debug)]
pub struct Failure {
    /// What the failure is about.
    pub subject: String,
    /// What happened.
    pub error: Error,
}

/// The helper that answers a request, with the policy its manifest and
/// the command line's overrides describe.
#[derive(Debug, Clone)]
pub struct Helper {
    /// The manifest (or bare component) it was read from.
    pub target: PathBuf,
    /// The command line's overrides.
    pub overrides: Overrides,
    /// What it may do.
    pub policy: Policy,
}

impl Helper {
    /// Reads the helper `target` names, or routes to, with `overrides`.
    /// `Ok(None)`: nothing named and no route covers the URL.
    pub fn resolve(
        target: Target<'_>,
        overrides: Overrides,
    ) -> std::result::Result<Option<Helper>, Failure> {
        let path = match crate::routes::manifest_for(target.named, target.url) {
            Ok(Some(path)) => path,
            Ok(None) => return Ok(None),
            Err(error) => {
                return Err(Failure {
                    subject: "routes".into(),
                    error,
                });
            }
        };
        Helper::load(path, overrides).map(Some)
    }

    /// Reads the manifest (or bare component) at `path` with `overrides`.
    pub fn load(path: PathBuf, overrides: Overrides) -> std::result::Result<Helper, Failure> {
        let policy = LoadedManifest::from_target(&path)
            .and_then(|manifest| Policy::from_manifest(&manifest, &overrides));
        match policy {
            Ok(policy) => Ok(Helper {
                target: path,
                overrides,
                policy,
            }),
            Err(error) => Err(Failure {
                subject: path.display().to_string(),
                error,
            }),
        }
    }

    /// The helper's name, for messages.
    pub fn name(&self) -> &str {
        &self.policy.name
    }

    /// The credential for `request`: from the cache, else by running the
    /// helper; past its refresh time, a detached credbox refreshes it with
    /// this helper's [`Ticket`].
    pub fn fetch(&self, request: &Request, options: &RunOptions) -> Result<crate::Answer> {
        let ticket = Ticket {
            target: self.target.clone(),
            overrides: self.overrides.clone(),
            request: request.clone(),
        };
        crate::run(
            &self.policy,
            request,
            options,
            &Refresh::Detached(Box::new(ticket)),
        )
    }

    /// The server refused the credential cached for `request` (see
    /// [`crate::refused`]); whether there was one.
    pub fn refused(&self, request: &Request, refusal: Error) -> Result<bool> {
        crate::refused(&self.policy, request, refusal)
    }

    /// Forgets the cached credential for `request` (git's and Docker's
    /// `erase`); whether there was one.
    pub fn forget(&self, request: &Request) -> Result<bool> {
        crate::forget(&self.policy, request)
    }
}

/// How a client hears that the helper does not serve what it asked (no
/// route covers it, or the helper answered `not-found`), so that it asks
/// elsewhere.
#[derive(Debug, Clone)]
pub enum NotMine {
    /// A failure like any other (exit code 10); `no_route` says why, about
    /// `subject`, when no route covered the request.
    Fail {
        /// What the failure is about when no route matched.
        subject: String,
        /// The message when nothing was named and no route matched.
        no_route: String,
    },
    /// Nothing at all, exit code 0 (git goes on to its next helper).
    Silent,
    /// `text` on stdout and exit `code` (Docker's exact "not found").
    Say {
        /// What the client looks for.
        text: &'static str,
        /// The exit code.
        code: u8,
    },
}

/// How a front end answers besides its rendering.
#[derive(Debug, Clone)]
pub struct Manner {
    /// How "not mine" sounds.
    pub not_mine: NotMine,
    /// Whether a failure's line also goes on stdout (Docker clients show
    /// stdout, not stderr).
    pub failures_on_stdout: bool,
}

impl Manner {
    /// Writes `error`'s one line about `subject` on stderr, and on stdout
    /// too if the client shows that; the error's exit code.
    pub fn fail(&self, out: &mut Out<'_>, subject: &str, error: &Error) -> u8 {
        if self.failures_on_stdout {
            let line = error.report(subject);
            let _ = writeln!(out.stdout(), "{line}");
        }
        out.fail(subject, error)
    }

    /// Failures on stderr only, "not mine" as a failure, for a front end
    /// that always names its manifest (so never routes).
    pub fn plain() -> Manner {
        Manner {
            not_mine: NotMine::Fail {
                subject: "routes".into(),
                no_route: "no manifest named".into(),
            },
            failures_on_stdout: false,
        }
    }
}

/// What came of a request, before the client's rendering of failures:
/// `T` is what the front end rendered the credential into (the text for
/// stdout, as a rule).
#[derive(Debug)]
pub enum Reply<T = String> {
    /// The rendered answer of `helper`, with a warning for stderr.
    Answer {
        /// The helper's name.
        helper: String,
        /// The rendered credential.
        text: T,
        /// A warning about the cache, if any.
        warning: Option<String>,
    },
    /// No route, or the helper answered `not-found` (its message).
    NotMine(Option<Failure>),
    /// Anything else that went wrong.
    Failed(Failure),
}

/// Steps 1 and 2 and the rendering (see the module doc): the [`Reply`] to
/// `request` by the helper `target` names or routes to.
pub fn answer<T>(
    target: Target<'_>,
    overrides: Overrides,
    request: &Request,
    options: &RunOptions,
    render: impl FnOnce(&Credential) -> Result<T>,
) -> Reply<T> {
    match Helper::resolve(target, overrides) {
        Ok(Some(helper)) => answer_by(&helper, request, options, render),
        Ok(None) => Reply::NotMine(None),
        Err(failure) => Reply::Failed(failure),
    }
}

/// Step 2 and the rendering for a resolved `helper`.
pub fn answer_by<T>(
    helper: &Helper,
    request: &Request,
    options: &RunOptions,
    render: impl FnOnce(&Credential) -> Result<T>,
) -> Reply<T> {
    let failed = |error: Error| Failure {
        subject: helper.name().to_owned(),
        error,
    };
    match helper.fetch(request, options) {
        Ok(answer) => match render(&answer.credential) {
            Ok(text) => Reply::Answer {
                helper: helper.name().to_owned(),
                text,
                warning: answer.warning,
            },
            Err(error) => Reply::Failed(failed(error)),
        },
        Err(error) if error.is_not_found() => Reply::NotMine(Some(failed(error))),
        Err(error) => Reply::Failed(failed(error)),
    }
}

impl Reply {
    /// Writes the reply through `out` in `manner`; the exit code.
    pub fn write(self, out: &mut Out<'_>, manner: &Manner) -> u8 {
        match self {
            Reply::Answer {
                helper,
                text,
                warning,
            } => {
                out.warn(&helper, warning.as_deref());
                out.answer(&helper, &text)
            }
            Reply::NotMine(failure) => match (&manner.not_mine, failure) {
                (NotMine::Fail { .. }, Some(failure)) => fail(out, manner, &failure),
                (NotMine::Fail { subject, no_route }, None) => {
                    let failure = Failure {
                        subject: subject.clone(),
                        error: Error::NotFound(no_route.clone()),
                    };
                    fail(out, manner, &failure)
                }
                (NotMine::Silent, _) => 0,
                (NotMine::Say { text, code }, _) => {
                    out.answer("not found", &format!("{text}\n"));
                    *code
                }
            },
            Reply::Failed(failure) => fail(out, manner, &failure),
        }
    }
}

fn fail(out: &mut Out<'_>, manner: &Manner, failure: &Failure) -> u8 {
    manner.fail(out, &failure.subject, &failure.error)
}

/// The whole path: [`answer`], then the reply written in `manner`.
pub fn serve(
    out: &mut Out<'_>,
    target: Target<'_>,
    overrides: Overrides,
    request: &Request,
    options: &RunOptions,
    render: impl FnOnce(&Credential) -> Result<String>,
    manner: &Manner,
) -> u8 {
    answer(target, overrides, request, options, render).write(out, manner)
}

/// The background refresh (`credbox --refresh-child`): reads its
/// [`Ticket`] from `stdin` and refreshes the entry it names. Its stdout
/// and stderr lead nowhere; the exit code only tells a test what
/// happened.
pub fn refresh_child(stdin: impl std::io::Read) -> u8 {
    // Bounded even before the ticket says how long the helper may take.
    crate::refresh::limit_lifetime(std::time::Duration::from_secs(60));
    let Ok(Handed { ticket, key }) = Handed::read(stdin) else {
        return 2;
    };
    let Ok(helper) = Helper::load(ticket.target, ticket.overrides) else {
        return 2;
    };
    match crate::refresh_entry(&helper.policy, &ticket.request, &key) {
        Ok(()) => 0,
        Err(e) => e.exit_code(),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// What a front end wrote and returned.
    pub(crate) struct Written {
        pub stdout: String,
        pub stderr: String,
        pub code: u8,
    }

    /// Runs `front` with buffers for stdout and stderr.
    pub(crate) fn written(front: impl FnOnce(&mut Out) -> u8) -> Written {
        let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
        let code = front(&mut Out::new(&mut stdout, &mut stderr));
        Written {
            stdout: String::from_utf8(stdout).unwrap(),
            stderr: String::from_utf8(stderr).unwrap(),
            code,
        }
    }

    fn failure(error: Error) -> Failure {
        Failure {
            subject: "h\nx".into(),
            error,
        }
    }

    fn manners() -> [(&'static str, Manner); 3] {
        [
            ("plain", Manner::plain()),
            (
                "git",
                Manner {
                    not_mine: NotMine::Silent,
                    failures_on_stdout: false,
                },
            ),
            (
                "docker",
                Manner {
                    not_mine: NotMine::Say {
                        text: "not here",
                        code: 1,
                    },
                    failures_on_stdout: true,
                },
            ),
        ]
    }

    #[test]
    fn each_manner_answers_not_mine_and_failures_its_own_way() {
        for (which, manner) in manners() {
            let answered = written(|out| {
                Reply::Answer {
                    helper: "h".into(),
                    text: "tok\n".into(),
                    warning: Some("cache\nfull".into()),
                }
                .write(out, &manner)
            });
            assert_eq!(
                (answered.code, &answered.stdout[..]),
                (0, "tok\n"),
                "{which}"
            );
            assert_eq!(answered.stderr, "credbox: h: warning: cache\\nfull\n");

            let failed = written(|out| {
                Reply::<String>::Failed(failure(Error::Denied("no".into()))).write(out, &manner)
            });
            let line =
                "credbox: h\\nx: denied: no (the provider refused the secret: check or renew it)\n";
            assert_eq!((failed.code, &failed.stderr[..]), (4, line), "{which}");
            let on_stdout = if manner.failures_on_stdout { line } else { "" };
            assert_eq!(failed.stdout, on_stdout, "{which}");

            let not_found = failure(Error::NotFound("not mine".into()));
            let said = written(|out| Reply::<String>::NotMine(Some(not_found)).write(out, &manner));
            let no_route = written(|out| Reply::<String>::NotMine(None).write(out, &manner));
            match which {
                "plain" => {
                    assert_eq!(said.code, 10);
                    assert!(
                        said.stderr
                            .starts_with("credbox: h\\nx: not found: not mine (")
                    );
                    assert_eq!(no_route.code, 10);
                    assert!(
                        no_route
                            .stderr
                            .starts_with("credbox: routes: not found: no manifest named ("),
                        "{}",
                        no_route.stderr
                    );
                    assert_eq!(said.stdout + &no_route.stdout, "");
                }
                "git" => {
                    for silent in [said, no_route] {
                        assert_eq!(
                            (silent.code, &silent.stdout[..], &silent.stderr[..]),
                            (0, "", "")
                        );
                    }
                }
                _ => {
                    for say in [said, no_route] {
                        assert_eq!(
                            (say.code, &say.stdout[..], &say.stderr[..]),
                            (1, "not here\n", "")
                        );
                    }
                }
            }
        }
    }

    /// A stdout whose reader is gone.
    struct Gone;

    impl Write for Gone {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_lost_stdout_is_one_line_and_exit_1() {
        let mut stderr = Vec::new();
        let code = Out::new(&mut Gone, &mut stderr).answer("h", "tok");
        let stderr = String::from_utf8(stderr).unwrap();
        assert_eq!(code, 1);
        assert!(
            stderr.starts_with("credbox: h: cannot write to stdout: "),
            "{stderr}"
        );
        assert!(!stderr.contains("tok"), "{stderr}");
        assert_eq!(stderr.lines().count(), 1);
    }

    #[test]
    fn run_answers_from_a_bare_component_and_names_a_missing_manifest() {
        let options = RunOptions {
            no_cache: true,
            ..RunOptions::default()
        };
        let component = Path::new(credbox_test_artifacts::GUEST_ECHO_REQUEST);
        let overrides = Overrides {
            format: Some(crate::manifest::Format::Headers),
            ..Overrides::default()
        };
        let ran =
            written(|out| crate::protocol::run::handle(component, overrides, None, &options, out));
        assert_eq!(ran.code, 0, "{}", ran.stderr);
        let headers: serde_json::Value = serde_json::from_str(&ran.stdout).unwrap();
        assert!(headers.get("X-Client").is_some(), "{headers}");

        let missing = Path::new("/nonexistent/credbox.toml");
        let ran = written(|out| {
            crate::protocol::run::handle(missing, Overrides::default(), None, &options, out)
        });
        assert_eq!((ran.code, &ran.stdout[..]), (2, ""));
        assert!(
            ran.stderr
                .starts_with("credbox: /nonexistent/credbox.toml: "),
            "{}",
            ran.stderr
        );
        assert_eq!(ran.stderr.lines().count(), 1);
    }
}
