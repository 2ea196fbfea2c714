//! `credbox aws`: a profile's `credential_process` under the real AWS CLI
//! (`aws`, pip package `awscli`), signing requests to a loopback STS that
//! checks each request's SigV4 signature against the secret the helper
//! handed out; and the shape of Claude Code's `awsCredentialExport`.

use std::path::Path;
use std::process::Command;

use credbox_test_artifacts::{GUEST_ECHO_REQUEST, GUEST_V02_PARTS};
use serde_json::{Value, json};

use crate::support::claude_client::{ONE_AT_A_TIME, claude};
use crate::support::clients::{CLIENT_DEADLINE, Finished, client, run};
use crate::support::servers::{Reply, Request, Server};
use crate::support::sigv4;
use crate::support::util::{Cache, error_kinds, manifest, sh_quote};

/// The AWS keys echo-request hands the `aws` client: the key id, and as
/// secret the client's context word (`aws`: the client has no fields).
const ECHO_KEY_ID: &str = "ECHOECHOECHOECHO";
const ECHO_SECRET: &str = "aws";

const CALLER_IDENTITY: &str = concat!(
    r#"<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">"#,
    "<GetCallerIdentityResult><Arn>arn:aws:iam::123456789012:user/credbox</Arn>",
    "<UserId>AIDACREDBOX</UserId><Account>123456789012</Account></GetCallerIdentityResult>",
    "<ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></GetCallerIdentityResponse>"
);

/// A loopback STS that answers `GetCallerIdentity` to requests signed with
/// `secret`, and `403 SignatureDoesNotMatch` to any other.
fn sts(secret: &'static str) -> Server {
    Server::start(
        move |request: &Request| match sigv4::verify(request, secret) {
            Ok(_) => Reply::Full {
                status: 200,
                headers: vec![("content-type", "text/xml".to_owned())],
                body: CALLER_IDENTITY.as_bytes().to_vec(),
            },
            Err(why) => Reply::status(
                403,
                "text/xml",
                &format!(
                    "<ErrorResponse><Error><Type>Sender</Type><Code>SignatureDoesNotMatch</Code><Message>{why}</Message></Error></ErrorResponse>"
                ),
            ),
        },
    )
}

/// Runs `aws sts get-caller-identity` against `endpoint` with a profile
/// whose `credential_process` is `credbox aws <manifest>`, in a home of its
/// own and with no AWS variables from the test's environment.
fn get_caller_identity(aws: &Path, cache: &Cache, manifest: &str, endpoint: &str) -> Finished {
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("config");
    std::fs::write(
        &config,
        format!(
            "[profile credbox]\ncredential_process = {} aws {manifest}\nregion = us-east-1\n",
            env!("CARGO_BIN_EXE_credbox")
        ),
    )
    .unwrap();
    let mut cmd = Command::new(aws);
    cmd.args(["sts", "get-caller-identity", "--output", "json"])
        .args(["--endpoint-url", endpoint])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("AWS_CONFIG_FILE", &config)
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            home.path().join("credentials"),
        )
        .env("AWS_PROFILE", "credbox")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("CREDBOX_CACHE_DIR", cache.path());
    run(cmd, CLIENT_DEADLINE).unwrap()
}

#[test]
fn the_aws_cli_signs_with_the_keys_credbox_hands_it() {
    let Some(aws) = client("aws", "the pip package awscli") else {
        return;
    };
    let echo = manifest("echo-request", GUEST_ECHO_REQUEST, "");
    let server = sts(ECHO_SECRET);
    let cache = Cache::new();
    let finished = get_caller_identity(&aws, &cache, echo.arg(), &server.origin());
    assert_eq!(finished.code, Some(0), "{finished:#?}");
    let identity: Value = serde_json::from_str(&finished.stdout).unwrap();
    assert_eq!(identity["Account"], "123456789012", "{finished:#?}");
    let requests = server.stop();
    assert!(!requests.is_empty());
    for request in &requests {
        assert_eq!(
            sigv4::verify(request, ECHO_SECRET),
            Ok(sigv4::Signer {
                access_key_id: ECHO_KEY_ID.into(),
                session_token: None,
            })
        );
    }
}

/// Temporary credentials from v02-parts, for the `aws` client only (any
/// other client gets `not-found`), valid for an hour.
const TEMPORARY: &str = r#"[config]
CLIENT = "aws"
ACCESS_KEY_ID = "ASIACREDBOXTEST7"
SECRET_ACCESS_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYcredbox"
SESSION_TOKEN = "FwoGZXIvYXdzEBcredbox//session+token="
EXPIRES_IN = "3600"
"#;

#[test]
fn the_aws_cli_sends_the_session_token_of_temporary_credentials() {
    let Some(aws) = client("aws", "the pip package awscli") else {
        return;
    };
    let parts = manifest("v02-parts", GUEST_V02_PARTS, TEMPORARY);
    let server = sts("wJalrXUtnFEMI/K7MDENG+bPxRfiCYcredbox");
    let finished = get_caller_identity(&aws, &Cache::new(), parts.arg(), &server.origin());
    assert_eq!(finished.code, Some(0), "{finished:#?}");
    let requests = server.stop();
    assert!(!requests.is_empty());
    for request in &requests {
        assert_eq!(
            sigv4::verify(request, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYcredbox"),
            Ok(sigv4::Signer {
                access_key_id: "ASIACREDBOXTEST7".into(),
                session_token: Some("FwoGZXIvYXdzEBcredbox//session+token=".into()),
            })
        );
    }
}

#[test]
fn temporary_credentials_carry_their_expiration() {
    let parts = manifest("v02-parts", GUEST_V02_PARTS, TEMPORARY);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let process: Value =
        serde_json::from_str(Cache::new().run(&["aws", parts.arg()], &[]).ok()).unwrap();
    assert_eq!(process["Version"], 1);
    assert_eq!(
        process["SessionToken"],
        "FwoGZXIvYXdzEBcredbox//session+token="
    );
    let expiration = process["Expiration"].as_str().unwrap();
    let near: Vec<String> = (now + 3590..now + 3610)
        .map(credbox::protocol::rfc3339::format_utc)
        .collect();
    assert!(
        near.iter().any(|s| s == expiration),
        "{expiration} not in {near:?}"
    );
}

#[test]
fn a_failing_helper_fails_the_aws_cli_with_credbox_s_one_line() {
    let Some(aws) = client("aws", "the pip package awscli") else {
        return;
    };
    let denied = error_kinds("denied");
    let server = sts(ECHO_SECRET);
    let finished = get_caller_identity(&aws, &Cache::new(), denied.arg(), &server.origin());
    assert_ne!(finished.code, Some(0), "{finished:#?}");
    assert_eq!(finished.stdout, "");
    // botocore quotes the process's stderr in its error.
    assert!(
        finished
            .stderr
            .contains("credbox: error-kinds: denied: kind test"),
        "{finished:#?}"
    );
    assert!(server.stop().is_empty(), "no request without credentials");
}

#[test]
fn credential_process_and_claude_export_shapes() {
    let echo = manifest("echo-request", GUEST_ECHO_REQUEST, "");
    let cache = Cache::new();
    let process: Value = serde_json::from_str(cache.run(&["aws", echo.arg()], &[]).ok()).unwrap();
    assert_eq!(
        process,
        json!({"Version": 1, "AccessKeyId": ECHO_KEY_ID, "SecretAccessKey": ECHO_SECRET})
    );
    let export = cache.run(&["aws", "--claude-export", echo.arg()], &[]);
    assert_eq!(
        export.ok(),
        format!(
            "{{\"Credentials\":{{\"AccessKeyId\":\"{ECHO_KEY_ID}\",\"SecretAccessKey\":\"{ECHO_SECRET}\"}}}}\n"
        )
    );
}

#[test]
fn a_credential_without_aws_keys_is_refused() {
    // error-kinds' `ok` is a bearer token that expires in 60 s: no AWS part.
    let token_only = error_kinds("ok");
    let outcome = Cache::new().run(&["aws", token_only.arg()], &[]);
    let line = outcome.fails(7, "error-kinds");
    assert!(!line.contains("tok-ok"), "{line}");
}

/// A loopback Amazon Bedrock: the inference-profile list (empty), and `400
/// ValidationException` to every model call, which ends Claude Code's
/// print mode at once with that message. Each request is recorded, to check
/// its signature.
fn bedrock() -> Server {
    Server::start(|request: &Request| {
        if request.target.starts_with("/inference-profiles") {
            return Reply::json(r#"{"inferenceProfileSummaries":[]}"#);
        }
        Reply::Full {
            status: 400,
            headers: vec![
                ("content-type", "application/json".to_owned()),
                ("x-amzn-errortype", "ValidationException".to_owned()),
            ],
            body: br#"{"message":"credbox test: stop here"}"#.to_vec(),
        }
    })
}

#[test]
fn claude_code_signs_bedrock_requests_with_the_keys_credbox_exports() {
    let Some(claude) = claude() else {
        return;
    };
    let parts = manifest("v02-parts", GUEST_V02_PARTS, TEMPORARY);
    let cache = Cache::warmed(parts.arg());
    let server = bedrock();
    let home = tempfile::tempdir().unwrap();
    let work = home.path().join("project");
    std::fs::create_dir(&work).unwrap();
    let export = [
        env!("CARGO_BIN_EXE_credbox"),
        "aws",
        "--claude-export",
        parts.arg(),
    ]
    .map(sh_quote)
    .join(" ");
    let settings = home.path().join("settings.json");
    std::fs::write(
        &settings,
        json!({"awsCredentialExport": export}).to_string(),
    )
    .unwrap();
    let mut cmd = Command::new(claude);
    cmd.args(["-p", "Say pong.", "--no-session-persistence", "--settings"])
        .arg(&settings)
        .current_dir(&work)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("CLAUDE_CODE_USE_BEDROCK", "1")
        .env("ANTHROPIC_BEDROCK_BASE_URL", server.origin())
        .env("AWS_REGION", "us-east-1")
        // One model and no retries: a dozen requests, not dozens.
        .env(
            "ANTHROPIC_MODEL",
            "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
        )
        .env("CLAUDE_CODE_MAX_RETRIES", "0")
        .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
        .env("DISABLE_AUTOUPDATER", "1")
        .env("CREDBOX_CACHE_DIR", cache.path());
    let finished = {
        let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        run(cmd, CLIENT_DEADLINE).unwrap()
    };
    assert!(!finished.timed_out, "{finished:#?}");
    // The loopback Bedrock's refusal, as Claude Code reports it.
    assert!(
        finished.stdout.contains("credbox test: stop here"),
        "{finished:#?}"
    );
    let requests = server.stop();
    assert!(
        requests.iter().any(|r| r.target.starts_with("/model/")),
        "{requests:#?}"
    );
    for request in &requests {
        assert_eq!(
            sigv4::verify(request, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYcredbox"),
            Ok(sigv4::Signer {
                access_key_id: "ASIACREDBOXTEST7".into(),
                session_token: Some("FwoGZXIvYXdzEBcredbox//session+token=".into()),
            }),
            "{} {}",
            request.method,
            request.target
        );
    }
}
