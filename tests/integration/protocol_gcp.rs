//! `credbox gcp`: executable-sourced credentials under the real google-auth
//! (PyPI `google-auth`, with `requests`), which runs credbox as its
//! `credential_source.executable.command` and trades the subject token at a
//! loopback STS token endpoint that checks what arrived (a fixed token, or
//! the jwt sample's JWT, its ES256 signature and claims verified); the
//! output file the library reads before running credbox; and hostile
//! variables. Node's google-auth-library (npm, what Claude Code on Vertex
//! AI uses) gets the same exchange and failure.

use std::path::{Path, PathBuf};
use std::process::Command;

use credbox_test_artifacts::{GUEST_V02_PARTS, JWT};
use serde_json::{Value, json};

use crate::support::clients::{CLIENT_DEADLINE, Finished, client, missing, run};
use crate::support::crypto::{unbase64url, unhex};
use crate::support::servers::{Reply, Request, Server};
use crate::support::testkeys::{ES256_PUBLIC, key_file};
use crate::support::util::{Cache, TempManifest, error_kinds, manifest, sample_manifest};

/// The subject token the helper hands out: a JWT's shape (the STS stand-in
/// does not check signatures).
const SUBJECT: &str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjcmVkYm94LWdjcCJ9.c2lnbmVkLWJ5LWNyZWRib3g";
const JWT_TYPE: &str = "urn:ietf:params:oauth:token-type:jwt";
const AUDIENCE: &str = "//iam.googleapis.com/projects/123456/locations/global/workloadIdentityPools/credbox/providers/test";
/// What the STS stand-in hands back for the right subject token.
const ACCESS_TOKEN: &str = "ya29.credbox-gcp-test-access-token";

/// Refreshes the credentials of the configuration in `argv[1]` and prints
/// the access token; on failure, the exception on stderr and exit 3. The
/// scopes come after loading: given to `load_credentials_from_file`, they
/// make it look the project up at cloudresourcemanager.googleapis.com.
const REFRESH: &str = r#"
import sys
import google.auth
import google.auth.transport.requests
credentials, _ = google.auth.load_credentials_from_file(sys.argv[1])
credentials = credentials.with_scopes(["https://www.googleapis.com/auth/cloud-platform"])
try:
    credentials.refresh(google.auth.transport.requests.Request())
except Exception as e:
    print(type(e).__name__ + ": " + str(e), file=sys.stderr)
    sys.exit(3)
print(credentials.token)
"#;

/// Gets an access token with the configuration in `argv[1]` and prints it;
/// on failure, the error's message on stderr and exit 3.
const NODE_REFRESH: &str = r#"
const {GoogleAuth} = require('google-auth-library');
(async () => {
  const auth = new GoogleAuth({keyFile: process.argv[1],
    scopes: ['https://www.googleapis.com/auth/cloud-platform']});
  const client = await auth.getClient();
  try {
    console.log((await client.getAccessToken()).token);
  } catch (e) {
    console.error(e.message);
    process.exitCode = 3;
  }
})();
"#;

/// `node` and the folder holding google-auth-library (the test's
/// `NODE_PATH`, else npm's global modules), else `None` (a failure under
/// CI).
fn node() -> Option<(PathBuf, String)> {
    const PACKAGE: &str = "node and the npm package google-auth-library (npm install -g)";
    let node = client("node", PACKAGE)?;
    let root = match std::env::var("NODE_PATH") {
        Ok(path) if !path.is_empty() => path,
        _ => match Command::new("npm").args(["root", "-g"]).output() {
            Ok(out) if out.status.success() => {
                String::from_utf8_lossy(&out.stdout).trim().to_owned()
            }
            _ => return missing("`npm root -g` does not run", PACKAGE).and(None),
        },
    };
    let found = Command::new(&node)
        .args(["-e", "require('google-auth-library')"])
        .env("NODE_PATH", &root)
        .output();
    match found {
        Ok(out) if out.status.success() => Some((node, root)),
        _ => missing("node cannot require google-auth-library", PACKAGE).and(None),
    }
}

/// `python3` with google-auth and requests importable, else `None` (a
/// failure under CI).
fn python() -> Option<PathBuf> {
    const PACKAGE: &str = "the pip packages google-auth and requests";
    let python = client("python3", PACKAGE)?;
    let imports = Command::new(&python)
        .args(["-c", "import google.auth, google.auth.pluggable, requests"])
        .output();
    match imports {
        Ok(out) if out.status.success() => Some(python),
        _ => missing("python3 cannot import google.auth and requests", PACKAGE),
    }
}

/// The v02-parts helper handing out `token` for an hour, to any client
/// (it answers every client alike).
fn subject_helper(token: &str) -> TempManifest {
    manifest(
        "gcp-subject",
        GUEST_V02_PARTS,
        &format!("[config]\nTOKEN = {token:?}\nEXPIRES_IN = \"3600\"\n"),
    )
}

/// A loopback STS token endpoint: an access token for a token exchange of
/// [`SUBJECT`] for [`AUDIENCE`], `400 invalid_grant` for anything else.
fn sts() -> Server {
    sts_checking(|subject| match subject == SUBJECT {
        true => Ok(()),
        false => Err(format!("subject_token is {subject:?}")),
    })
}

/// A loopback STS token endpoint: an access token for a token exchange for
/// [`AUDIENCE`] whose subject token `check_subject` accepts, `400
/// invalid_grant` for anything else.
fn sts_checking(check_subject: fn(&str) -> Result<(), String>) -> Server {
    Server::start(
        move |request: &Request| match check_exchange(request, check_subject) {
            Ok(()) => Reply::json(
                &json!({
                    "access_token": ACCESS_TOKEN,
                    "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
                    "token_type": "Bearer",
                    "expires_in": 3600,
                })
                .to_string(),
            ),
            Err(why) => Reply::status(
                400,
                "application/json",
                &json!({"error": "invalid_grant", "error_description": why}).to_string(),
            ),
        },
    )
}

/// What is wrong with `request` as the token exchange the STS expects,
/// its subject token checked by `check_subject`.
fn check_exchange(
    request: &Request,
    check_subject: fn(&str) -> Result<(), String>,
) -> Result<(), String> {
    if request.method != "POST" || request.target != "/v1/token" {
        return Err(format!("{} {}", request.method, request.target));
    }
    let form = form(request.body_text());
    let field = |name: &str| {
        form.iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    for (name, wanted) in [
        (
            "grant_type",
            "urn:ietf:params:oauth:grant-type:token-exchange",
        ),
        ("audience", AUDIENCE),
        ("subject_token_type", JWT_TYPE),
        ("scope", "https://www.googleapis.com/auth/cloud-platform"),
    ] {
        if field(name) != Some(wanted) {
            return Err(format!("{name} is {:?}", field(name)));
        }
    }
    check_subject(field("subject_token").unwrap_or_default())
}

/// The audience the jwt sample's JWT is for: the provider's, as Google's
/// STS takes it by default.
const JWT_AUDIENCE: &str = "https://iam.googleapis.com/projects/123456/locations/global/workloadIdentityPools/credbox/providers/test";

/// What is wrong with `jwt` as the jwt sample's token for the provider:
/// signed with the test ES256 key, for [`JWT_AUDIENCE`], not expired.
fn check_sample_jwt(jwt: &str) -> Result<(), String> {
    use p256::ecdsa::signature::Verifier as _;
    let parts: Vec<&str> = jwt.split('.').collect();
    let [header, claims, signature] = parts[..] else {
        return Err(format!("subject_token is not a JWT: {jwt:?}"));
    };
    let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(&unhex(ES256_PUBLIC)).unwrap();
    let signature = p256::ecdsa::Signature::from_slice(&unbase64url(signature))
        .map_err(|e| format!("signature: {e}"))?;
    key.verify(format!("{header}.{claims}").as_bytes(), &signature)
        .map_err(|e| format!("signature: {e}"))?;
    let claims: Value = serde_json::from_slice(&unbase64url(claims)).map_err(|e| e.to_string())?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    match (&claims["aud"], &claims["iss"], claims["exp"].as_u64()) {
        (aud, iss, Some(exp))
            if aud == JWT_AUDIENCE && iss == "claude-code-client" && exp > now =>
        {
            Ok(())
        }
        _ => Err(format!("claims: {claims}")),
    }
}

/// The fields of an `application/x-www-form-urlencoded` body, decoded.
fn form(body: &str) -> Vec<(String, String)> {
    let decode = |text: &str| {
        let bytes = text.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < bytes.len() => {
                    let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                    out.push(u8::from_str_radix(hex, 16).unwrap());
                    i += 2;
                }
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8(out).unwrap()
    };
    body.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(name), decode(value))
        })
        .collect()
}

/// Writes a credential configuration whose command is `credbox gcp
/// <manifest>`, trading at `sts`, with `output_file` when given.
fn config(
    dir: &Path,
    name: &str,
    manifest: &str,
    sts: &Server,
    output_file: Option<&Path>,
) -> PathBuf {
    let mut executable = json!({
        "command": format!("{} gcp {manifest}", env!("CARGO_BIN_EXE_credbox")),
        "timeout_millis": 30000,
    });
    if let Some(file) = output_file {
        executable["output_file"] = json!(file);
    }
    let config = json!({
        "type": "external_account",
        "audience": AUDIENCE,
        "subject_token_type": JWT_TYPE,
        "token_url": format!("{}/v1/token", sts.origin()),
        "credential_source": {"executable": executable},
    });
    let path = dir.join(name);
    std::fs::write(&path, config.to_string()).unwrap();
    path
}

/// Runs [`REFRESH`] on `config` with only the variables it needs.
fn refresh(python: &Path, config: &Path, cache: &Cache, home: &Path) -> Finished {
    let mut cmd = Command::new(python);
    cmd.args(["-c", REFRESH])
        .arg(config)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES", "1")
        .env("CREDBOX_CACHE_DIR", cache.path());
    run(cmd, CLIENT_DEADLINE).unwrap()
}

#[test]
fn google_auth_trades_the_subject_token_credbox_hands_it() {
    let Some(python) = python() else {
        return;
    };
    let helper = subject_helper(SUBJECT);
    let server = sts();
    let home = tempfile::tempdir().unwrap();
    let config = config(home.path(), "wif.json", helper.arg(), &server, None);
    let finished = refresh(&python, &config, &Cache::new(), home.path());
    assert_eq!(finished.code, Some(0), "{finished:#?}");
    assert_eq!(finished.stdout.trim(), ACCESS_TOKEN, "{finished:#?}");
    let requests = server.stop();
    assert_eq!(requests.len(), 1, "{requests:#?}");
}

#[test]
fn node_s_google_auth_library_trades_the_subject_token_and_shows_failures() {
    let Some((node, modules)) = node() else {
        return;
    };
    let server = sts();
    let home = tempfile::tempdir().unwrap();
    let cache = Cache::new();
    let get_token = |config: &Path| {
        let mut cmd = Command::new(&node);
        cmd.args(["-e", NODE_REFRESH])
            .arg(config)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", home.path())
            .env("NODE_PATH", &modules)
            .env("GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES", "1")
            .env("CREDBOX_CACHE_DIR", cache.path());
        run(cmd, CLIENT_DEADLINE).unwrap()
    };
    let helper = subject_helper(SUBJECT);
    let config = config(home.path(), "wif.json", helper.arg(), &server, None);
    let finished = get_token(&config);
    assert_eq!(finished.code, Some(0), "{finished:#?}");
    assert_eq!(finished.stdout.trim(), ACCESS_TOKEN, "{finished:#?}");
    let denied = error_kinds("denied");
    let config = self::config(home.path(), "denied.json", denied.arg(), &server, None);
    let finished = get_token(&config);
    assert_eq!(finished.code, Some(3), "{finished:#?}");
    let needle = r#"The executable failed with exit code: 4 and error message: {"version":1,"success":false,"code":"denied","message":"credbox: error-kinds: denied: kind test"#;
    assert!(finished.stderr.contains(needle), "{finished:#?}");
    assert_eq!(server.stop().len(), 1);
}

#[test]
fn google_auth_trades_the_jwt_the_jwt_sample_signs() {
    let Some(python) = python() else {
        return;
    };
    // The sample as shipped, with the test key and, without TOKEN_URL, the
    // provider as the JWT's audience.
    let key = key_file("es256.pem");
    let helper = sample_manifest(
        "jwt",
        JWT,
        &[(
            "TOKEN_URL = \"https://auth.example.com/oauth/token\"",
            &format!("AUDIENCE = \"{JWT_AUDIENCE}\""),
        )],
        &[("assertion.pem", key.to_str().unwrap())],
    );
    let server = sts_checking(check_sample_jwt);
    let home = tempfile::tempdir().unwrap();
    let config = config(home.path(), "wif.json", helper.arg(), &server, None);
    let finished = refresh(&python, &config, &Cache::new(), home.path());
    assert_eq!(finished.code, Some(0), "{finished:#?}");
    assert_eq!(finished.stdout.trim(), ACCESS_TOKEN, "{finished:#?}");
    assert_eq!(server.stop().len(), 1);
}

#[test]
fn google_auth_reads_the_output_file_credbox_wrote_without_running_it_again() {
    let Some(python) = python() else {
        return;
    };
    let helper = subject_helper(SUBJECT);
    let server = sts();
    let home = tempfile::tempdir().unwrap();
    let output = home.path().join("subject.json");
    let first = config(
        home.path(),
        "wif.json",
        helper.arg(),
        &server,
        Some(&output),
    );
    let cache = Cache::new();
    let finished = refresh(&python, &first, &cache, home.path());
    assert_eq!(finished.stdout.trim(), ACCESS_TOKEN, "{finished:#?}");
    let written: Value = serde_json::from_str(&std::fs::read_to_string(&output).unwrap()).unwrap();
    assert_eq!(written["success"], true);
    assert_eq!(written["token_type"], JWT_TYPE);
    assert_eq!(written["id_token"], SUBJECT);
    assert!(written["expiration_time"].as_u64().is_some(), "{written}");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&output).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // A command that would fail (its manifest is gone): the library takes
    // the unexpired response from the file and never runs it.
    let gone = config(
        home.path(),
        "gone.json",
        "/nonexistent/credbox.toml",
        &server,
        Some(&output),
    );
    let finished = refresh(&python, &gone, &cache, home.path());
    assert_eq!(finished.stdout.trim(), ACCESS_TOKEN, "{finished:#?}");
    assert_eq!(server.stop().len(), 2);
}

#[test]
fn google_auth_shows_credbox_s_failure_and_asks_the_sts_nothing() {
    let Some(python) = python() else {
        return;
    };
    let server = sts();
    let home = tempfile::tempdir().unwrap();
    let denied = error_kinds("denied");
    let config = config(home.path(), "wif.json", denied.arg(), &server, None);
    let finished = refresh(&python, &config, &Cache::new(), home.path());
    assert_eq!(finished.code, Some(3), "{finished:#?}");
    assert_eq!(finished.stdout, "");
    // google-auth quotes what credbox printed: the spec's failure response
    // with credbox's one line as its message.
    for needle in [
        "RefreshError: Executable exited with non-zero return code 4",
        r#""success":false,"code":"denied","message":"credbox: error-kinds: denied: kind test"#,
    ] {
        assert!(
            finished.stderr.contains(needle),
            "{needle:?}: {finished:#?}"
        );
    }
    // A token that is not a JWT is refused before it reaches the STS.
    let api_key = subject_helper("s3cr3t-api-key");
    let config = self::config(home.path(), "key.json", api_key.arg(), &server, None);
    let finished = refresh(&python, &config, &Cache::new(), home.path());
    assert_eq!(finished.code, Some(3), "{finished:#?}");
    assert!(
        finished.stderr.contains("the token is not a JWT"),
        "{finished:#?}"
    );
    assert!(!finished.stderr.contains("s3cr3t"), "{finished:#?}");
    assert!(
        server.stop().is_empty(),
        "no exchange without a subject token"
    );
}

/// The variables google-auth sets, with `audience` and `token_type`.
fn vars<'a>(audience: &'a str, token_type: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("GOOGLE_EXTERNAL_ACCOUNT_AUDIENCE", audience),
        ("GOOGLE_EXTERNAL_ACCOUNT_TOKEN_TYPE", token_type),
        ("GOOGLE_EXTERNAL_ACCOUNT_INTERACTIVE", "0"),
    ]
}

#[test]
fn the_response_names_the_token_under_its_types_field() {
    let helper = subject_helper(SUBJECT);
    let cache = Cache::new();
    for token_type in [JWT_TYPE, "urn:ietf:params:oauth:token-type:id_token"] {
        let out = cache.run(&["gcp", helper.arg()], &vars(AUDIENCE, token_type));
        assert_eq!(out.stderr, "", "{out:#?}");
        let response: Value = serde_json::from_str(out.ok()).unwrap();
        assert_eq!(response["version"], 1);
        assert_eq!(response["success"], true);
        assert_eq!(response["token_type"], token_type);
        assert_eq!(response["id_token"], SUBJECT);
    }
    let saml = subject_helper("PHNhbWxwOlJlc3BvbnNlLz4=");
    let saml2 = "urn:ietf:params:oauth:token-type:saml2";
    let out = cache.run(&["gcp", saml.arg()], &vars(AUDIENCE, saml2));
    let response: Value = serde_json::from_str(out.ok()).unwrap();
    assert_eq!(response["saml_response"], "PHNhbWxwOlJlc3BvbnNlLz4=");
    assert!(response.get("id_token").is_none());
}

#[test]
fn hostile_variables_and_arguments_get_one_line_and_no_token() {
    let helper = subject_helper(SUBJECT);
    let cache = Cache::new();
    let huge = "a".repeat(100_000);
    // Variables come from the credential configuration: the spec's failure
    // response, one line on stdout, nothing on stderr, exit 2.
    for (audience, token_type, needle) in [
        ("", JWT_TYPE, "AUDIENCE is not set"),
        (
            "aud\r\n{\"success\":true}",
            JWT_TYPE,
            "AUDIENCE must be one line",
        ),
        ("aud\u{7f}", JWT_TYPE, "AUDIENCE must be one line"),
        (
            huge.as_str(),
            JWT_TYPE,
            "AUDIENCE is longer than 1024 bytes",
        ),
        (
            AUDIENCE,
            "urn:ietf:params:oauth:token-type:access_token",
            "TOKEN_TYPE is not a subject token type",
        ),
        (
            AUDIENCE,
            huge.as_str(),
            "TOKEN_TYPE is not a subject token type",
        ),
        (AUDIENCE, "", "TOKEN_TYPE is not set"),
    ] {
        let out = cache.run(&["gcp", helper.arg()], &vars(audience, token_type));
        assert_eq!((out.code, &out.stderr[..]), (2, ""), "{out:#?}");
        let line = out.stdout.strip_suffix('\n').unwrap();
        assert!(!line.contains('\n'), "{out:#?}");
        assert!(line.len() < 1024, "{out:#?}");
        let response: Value = serde_json::from_str(line).unwrap();
        assert_eq!(response["success"], false, "{line}");
        assert_eq!(response["code"], "usage", "{line}");
        let message = response["message"].as_str().unwrap();
        assert!(message.contains(needle), "{message:?} lacks {needle:?}");
        assert!(!out.stdout.contains(SUBJECT) && !message.contains("success\\\":true"));
    }
    let out = cache.run(
        &["gcp", helper.arg()],
        &[
            vars(AUDIENCE, JWT_TYPE),
            vec![("GOOGLE_EXTERNAL_ACCOUNT_OUTPUT_FILE", "/tmp/x\n")],
        ]
        .concat(),
    );
    assert_eq!(out.code, 2, "{out:#?}");
    assert!(
        out.stdout.contains("OUTPUT_FILE holds a control character"),
        "{out:#?}"
    );
    // Arguments come from the command line: credbox's usual line on
    // stderr, nothing on stdout.
    for args in [
        vec!["gcp"],
        vec!["gcp", helper.arg(), "--audience=x"],
        vec!["gcp", helper.arg(), "extra"],
    ] {
        let out = cache.run(&args, &vars(AUDIENCE, JWT_TYPE));
        out.fails(2, "");
    }
    // Nothing is read from stdin: garbage there changes nothing.
    let out = cache.feed(
        &["gcp", helper.arg()],
        &vars(AUDIENCE, JWT_TYPE),
        "\0\r\n{garbage",
    );
    let response: Value = serde_json::from_str(out.ok()).unwrap();
    assert_eq!(response["id_token"], SUBJECT);
}
