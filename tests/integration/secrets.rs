//! A helper's secret reaches no front end. Hostile guests put the secret
//! everywhere a helper controls but the credential: error messages of each
//! kind, logs, a panic, invalid header names and values, an invalid token,
//! stdout cut at the capture limit, refused URLs (leak-everywhere's modes);
//! and, in a run that succeeds, its stdout and stderr, a log line of each
//! level, a message to the user, key and state names and a state value
//! (leak-everywhere's `spill`, state-and-keys). Each case goes through
//! every front end as its client drives it, twice (the second answered
//! from the cache), and the secret must be in no stdout or stderr, raw or
//! encoded, nor in any file of the cache.

use credbox_test_artifacts::{GUEST_LEAK_EVERYWHERE, GUEST_STATE_AND_KEYS};
use serde_json::{Value, json};

use crate::support::routes::Routes;
use crate::support::secrets::{LEAK_EVERYWHERE_MODES, assert_no_secret};
use crate::support::util::{Cache, Outcome, feed, manifest};

/// The secret every case hands its helper.
const SECRET: &str = "s3cr3t-leaky-value";

/// How a front end answers, and how it reports a failure.
#[derive(Clone, Copy)]
enum Shape {
    /// The credential on stdout, exit code 0; a failure is a non-zero
    /// exit code, nothing on stdout, and credbox's line last on stderr.
    Exit,
    /// As [`Shape::Exit`], but a failure's line is on stdout as well, where
    /// Docker clients read it.
    Docker,
    /// Cargo's JSON lines: the hello, then an `Ok` or `Err` answer; exit
    /// code 0 either way.
    Cargo,
    /// Google's executable response, one line of JSON on stdout and
    /// nothing on stderr: `success` with the token, exit code 0; or a
    /// failure with credbox's line as its `message`, a non-zero exit code.
    Gcp,
}

/// Stands for the manifest's path in a front end's arguments and stdin.
const MANIFEST: &str = "<manifest>";

/// A front end: the program its client runs, with what arguments, what it
/// writes on its stdin, and the variables it sets.
struct FrontEnd {
    name: &'static str,
    /// `None`: credbox itself; else the link `credbox install` makes.
    link: Option<&'static str>,
    args: &'static [&'static str],
    stdin: &'static str,
    env: &'static [(&'static str, &'static str)],
    /// A URL a route maps to the manifest, for a front end run without
    /// one (the user's routes choose it).
    route: Option<&'static str>,
    shape: Shape,
}

impl FrontEnd {
    /// Whether it prints headers (`credbox run` but for an API key).
    fn prints_headers(&self) -> bool {
        self.args[0] == "run" && !self.args.contains(&"api-key")
    }

    /// `credbox <args>`, answered as `shape`.
    const fn credbox(
        name: &'static str,
        args: &'static [&'static str],
        stdin: &'static str,
        shape: Shape,
    ) -> FrontEnd {
        FrontEnd {
            name,
            link: None,
            args,
            stdin,
            env: &[],
            route: None,
            shape,
        }
    }
}

/// Every front end, as each client calls it.
const FRONT_ENDS: &[FrontEnd] = &[
    FrontEnd::credbox("run (headers)", &["run", MANIFEST], "", Shape::Exit),
    FrontEnd::credbox(
        "run -vv (headers; the helper's log and output shown)",
        &["run", "-vv", MANIFEST],
        "",
        Shape::Exit,
    ),
    FrontEnd::credbox(
        "run --format api-key",
        &["run", "--format", "api-key", MANIFEST],
        "",
        Shape::Exit,
    ),
    FrontEnd::credbox(
        "git get",
        &["git", MANIFEST, "get"],
        "protocol=https\nhost=git.example.com\nusername=me\n\n",
        Shape::Exit,
    ),
    FrontEnd::credbox(
        "git get (authtype)",
        &["git", MANIFEST, "get"],
        "capability[]=authtype\nprotocol=https\nhost=git.example.com\n\n",
        Shape::Exit,
    ),
    FrontEnd::credbox(
        "docker get",
        &["docker", "--manifest", MANIFEST, "get"],
        "registry.example.com\n",
        Shape::Docker,
    ),
    FrontEnd {
        name: "docker-credential-credbox get (routed)",
        link: Some("docker-credential-credbox"),
        args: &["get"],
        stdin: "registry.example.com\n",
        env: &[],
        route: Some("registry.example.com"),
        shape: Shape::Docker,
    },
    FrontEnd::credbox("aws", &["aws", MANIFEST], "", Shape::Exit),
    FrontEnd::credbox(
        "aws --claude-export",
        &["aws", "--claude-export", MANIFEST],
        "",
        Shape::Exit,
    ),
    FrontEnd {
        name: "k8s",
        link: None,
        args: &["k8s", MANIFEST],
        stdin: "",
        env: &[(
            "KUBERNETES_EXEC_INFO",
            r#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"cluster":{"server":"https://k8s.example:6443"},"interactive":false}}"#,
        )],
        route: None,
        shape: Shape::Exit,
    },
    FrontEnd {
        name: "gcp (saml2, whose base64 the clean token fits)",
        link: None,
        args: &["gcp", MANIFEST],
        stdin: "",
        env: &[
            (
                "GOOGLE_EXTERNAL_ACCOUNT_AUDIENCE",
                "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/x",
            ),
            (
                "GOOGLE_EXTERNAL_ACCOUNT_TOKEN_TYPE",
                "urn:ietf:params:oauth:token-type:saml2",
            ),
        ],
        route: None,
        shape: Shape::Gcp,
    },
    FrontEnd::credbox(
        "cargo (by hand)",
        &["cargo", MANIFEST],
        "{\"v\":1,\"registry\":{\"index-url\":\"https://r.example/\"},\"kind\":\"get\",\"operation\":\"read\"}\n",
        Shape::Cargo,
    ),
    FrontEnd::credbox(
        "cargo --cargo-plugin (as Cargo runs it)",
        &["--cargo-plugin"],
        "{\"v\":1,\"registry\":{\"index-url\":\"https://r.example/\",\"name\":\"r\"},\"kind\":\"get\",\"operation\":\"read\",\"args\":[\"cargo\",\"<manifest>\"]}\n",
        Shape::Cargo,
    ),
];

/// Where the helper finds the secret.
#[derive(Clone, Copy, Debug)]
enum Source {
    /// `[config] API_TOKEN`.
    Config,
    /// The variable `API_TOKEN`, in `[env] allow`.
    Env,
}

/// One way a helper places the secret.
struct Case {
    /// The helper's name (its manifest's folder).
    helper: &'static str,
    component: &'static str,
    /// Its `[config]` lines, with `API_TOKEN` added by [`Source`].
    config: String,
    source: Source,
    /// What the front end's answer holds, or `None` when it fails (the
    /// helper fails, or has no part that front end prints).
    answer: fn(&FrontEnd) -> Option<&'static str>,
}

fn cases() -> Vec<Case> {
    let leak = |config: String, source, answer| Case {
        helper: "leak-everywhere",
        component: GUEST_LEAK_EVERYWHERE,
        config,
        source,
        answer,
    };
    let mut cases = Vec::new();
    for source in [Source::Config, Source::Env] {
        for mode in LEAK_EVERYWHERE_MODES {
            cases.push(leak(format!("MODE = {mode:?}\n"), source, |_| None));
        }
        // The capture keeps 64 KiB plus the longest secret: cut there too.
        let shifted = format!("MODE = \"stdout-split\"\nSHIFT = \"{}\"\n", SECRET.len());
        cases.push(leak(shifted, source, |_| None));
        cases.push(leak("MODE = \"spill\"\n".into(), source, |_| {
            Some("clean-")
        }));
    }
    // The secret as a key's name, a state name and a message to the user;
    // state-and-keys answers with headers alone, saying how each call went.
    cases.push(Case {
        helper: "state-and-keys",
        component: GUEST_STATE_AND_KEYS,
        config: format!(
            "KEY = {SECRET:?}\nSTATE_NAME = {SECRET:?}\nSTATE_SET = \"v\"\nSHOW = {SECRET:?}\n"
        ),
        source: Source::Config,
        answer: |front| {
            front
                .prints_headers()
                .then_some("\"X-Show\":\"error:misconfigured\"")
        },
    });
    cases
}

#[test]
fn a_secret_a_helper_places_anywhere_reaches_no_front_end_and_no_cache_file() {
    let cache = Cache::warmed(GUEST_LEAK_EVERYWHERE);
    cache.warm(GUEST_STATE_AND_KEYS);
    let bin = tempfile::tempdir().unwrap();
    cache
        .run(
            &["install", "docker", "--dir", bin.path().to_str().unwrap()],
            &[],
        )
        .ok();
    let state = tempfile::tempdir().unwrap();
    let state_dir = state.path().join("state");
    let state_dir = state_dir.to_str().unwrap();
    for case in cases() {
        let what = format!("{} {:?} {:?}", case.helper, case.config, case.source);
        for (row, front) in FRONT_ENDS.iter().enumerate() {
            // A manifest of its own for each front end (`ROW` is in the
            // cache key), so that each runs the helper, not only the
            // first to ask.
            let (allow, secret_config) = match case.source {
                Source::Config => ("", format!("API_TOKEN = {SECRET:?}\n")),
                Source::Env => ("[env]\nallow = [\"API_TOKEN\"]\n", String::new()),
            };
            let m = manifest(
                case.helper,
                case.component,
                &format!(
                    "[state]\nstore = \"file\"\n{allow}[config]\nROW = \"{row}\"\n{secret_config}{}",
                    case.config
                ),
            );
            let args: Vec<&str> = front
                .args
                .iter()
                .map(|&a| if a == MANIFEST { m.arg() } else { a })
                .collect();
            let json_path = serde_json::to_string(m.arg()).unwrap();
            let stdin = front.stdin.replace(MANIFEST, json_path.trim_matches('"'));
            let routes = front.route.map(|url| Routes::new(&[(url, m.arg())]));
            let mut env = vec![("CREDBOX_STATE_DIR", state_dir)];
            env.extend(routes.as_ref().map(Routes::env));
            env.extend_from_slice(front.env);
            if let Source::Env = case.source {
                env.push(("API_TOKEN", SECRET));
            }
            for call in ["run", "cached"] {
                let what = format!("{what} through {} ({call})", front.name);
                let out = match front.link {
                    None => cache.feed(&args, &env, &stdin),
                    Some(link) => feed(
                        cache.command_of(&bin.path().join(link), &args, &env),
                        &stdin,
                    ),
                };
                assert_no_secret(&what, &[SECRET], &out.streams(), None);
                match (case.answer)(front) {
                    Some(answer) => answered(front.shape, &out, answer, &what),
                    None => refused(front.shape, &out, case.helper, &what),
                }
            }
        }
        assert_no_secret(&what, &[SECRET], &[], Some(&cache.path()));
    }
}

/// Asserts that `out` is the front end's answer, with `answer` in it.
#[track_caller]
fn answered(shape: Shape, out: &Outcome, answer: &str, what: &str) {
    assert_eq!(out.code, 0, "{what}: {out:#?}");
    match shape {
        Shape::Exit | Shape::Docker => {
            assert!(out.stdout.contains(answer), "{what}: {out:#?}")
        }
        Shape::Cargo => {
            let token = cargo_answer(out, what)["Ok"]["token"].clone();
            assert!(
                token.as_str().is_some_and(|t| t.contains(answer)),
                "{what}: {out:#?}"
            );
        }
        Shape::Gcp => {
            let response = gcp_answer(out, what);
            assert_eq!(response["success"], true, "{what}: {out:#?}");
            let token = response["saml_response"].as_str().unwrap_or_default();
            assert!(token.contains(answer), "{what}: {out:#?}");
        }
    }
}

/// Asserts that `out` is the front end's report of `helper`'s failure.
#[track_caller]
fn refused(shape: Shape, out: &Outcome, helper: &str, what: &str) {
    let ours = format!("credbox: {helper}: ");
    let last = out.stderr.lines().last().unwrap_or_default();
    match shape {
        Shape::Exit => {
            assert_ne!(out.code, 0, "{what}: {out:#?}");
            assert_eq!(out.stdout, "", "{what}: {out:#?}");
            assert!(last.starts_with(&ours), "{what}: {out:#?}");
        }
        Shape::Docker => {
            assert_ne!(out.code, 0, "{what}: {out:#?}");
            assert!(last.starts_with(&ours), "{what}: {out:#?}");
            assert_eq!(out.stdout, format!("{last}\n"), "{what}: {out:#?}");
        }
        Shape::Cargo => {
            let error = &cargo_answer(out, what)["Err"];
            let message = error["message"].as_str().unwrap_or_default();
            assert!(message.starts_with(&ours), "{what}: {out:#?}");
        }
        Shape::Gcp => {
            assert_ne!(out.code, 0, "{what}: {out:#?}");
            let response = gcp_answer(out, what);
            assert_eq!(response["success"], false, "{what}: {out:#?}");
            let message = response["message"].as_str().unwrap_or_default();
            assert!(message.starts_with(&ours), "{what}: {out:#?}");
        }
    }
}

/// Google's executable response: one line on stdout, nothing on stderr.
#[track_caller]
fn gcp_answer(out: &Outcome, what: &str) -> Value {
    assert_eq!(out.stderr, "", "{what}: {out:#?}");
    let line = out.stdout.strip_suffix('\n').unwrap_or_default();
    assert!(!line.is_empty() && !line.contains('\n'), "{what}: {out:#?}");
    serde_json::from_str(line).unwrap()
}

/// Cargo's one answer after the hello, with exit code 0.
#[track_caller]
fn cargo_answer(out: &Outcome, what: &str) -> Value {
    assert_eq!(out.code, 0, "{what}: {out:#?}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{what}: {out:#?}");
    assert_eq!(
        serde_json::from_str::<Value>(lines[0]).unwrap(),
        json!({"v": [1]}),
        "{what}"
    );
    serde_json::from_str(lines[1]).unwrap()
}
