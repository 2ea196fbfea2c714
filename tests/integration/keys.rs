//! Keys credbox holds (`[keys]`), end to end through real components:
//! `tests/guests/key-thief` tries every way a helper has to get a key's
//! bytes, and none of them may appear in what it got, in credbox's output,
//! its messages and logs, or its cache. Signatures are checked
//! independently, with the public keys openssl derives.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use credbox_test_artifacts::{GUEST_KEY_THIEF, GUEST_STATE_AND_KEYS};

use crate::util::{Cache, TempManifest, manifest};

/// The HMAC secret, in credbox's environment only.
const HMAC_SECRET: &str = "hmac-S3CRET-never-seen-7f41c2";

/// The public key of `host/testdata/keys/es256.pem`, from `openssl pkey
/// -pubout`.
pub const ES256_PUBLIC: &str = "04c2c4a73440299763c5a11f76aa93c5ebdafbfb29de22c0479b3e1548d4736aa89d28e438328e38f8747600c2db559a39519116870f28589fe13b25a973060672";

/// The public key of `host/testdata/keys/ed25519.pem`, from openssl.
const ED25519_PUBLIC: &str = "25f6083392bec7e77d958d9620bbd856d71207cbfd3a92b9d145060082a32313";

fn testdata(name: &str) -> PathBuf {
    crate::util::root().join("host/testdata/keys").join(name)
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

/// `bytes` in base64 with `alphabet`'s last two characters, unpadded.
fn base64(bytes: &[u8], url: bool) -> String {
    let tail = if url { "-_" } else { "+/" };
    let alphabet: Vec<char> =
        format!("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789{tail}")
            .chars()
            .collect();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(alphabet[(n >> (18 - 6 * i)) as usize & 63]);
        }
    }
    out
}

/// Every form in which a key's bytes could leak: the HMAC secret; the
/// P-256 scalar and the Ed25519 seed, raw in hex and base64 (standard and
/// URL); and each line of the PEM files' bodies.
fn forbidden() -> Vec<String> {
    use ed25519_dalek::pkcs8::DecodePrivateKey as _;
    let es_pem = std::fs::read_to_string(testdata("es256.pem")).unwrap();
    let ed_pem = std::fs::read_to_string(testdata("ed25519.pem")).unwrap();
    let scalar = p256::SecretKey::from_pkcs8_pem(&es_pem)
        .unwrap()
        .to_bytes()
        .to_vec();
    let seed = ed25519_dalek::pkcs8::KeypairBytes::from_pkcs8_pem(&ed_pem)
        .unwrap()
        .secret_key
        .to_vec();
    let mut all = vec![HMAC_SECRET.to_owned()];
    for secret in [HMAC_SECRET.as_bytes(), &scalar, &seed] {
        all.push(hex(secret));
        all.push(hex(secret).to_uppercase());
        // A 3-byte-aligned stretch, so that it shows whatever precedes it.
        all.push(base64(&secret[..secret.len() / 3 * 3], false));
        all.push(base64(&secret[..secret.len() / 3 * 3], true));
    }
    for pem in [es_pem, ed_pem] {
        all.extend(
            pem.lines()
                .filter(|l| !l.starts_with("-----") && l.len() >= 16)
                .map(str::to_owned),
        );
    }
    all
}

/// Asserts that `text` (named `what`) holds no form of any key.
#[track_caller]
fn assert_no_key(what: &str, text: &[u8]) {
    let text = String::from_utf8_lossy(text);
    for secret in forbidden() {
        assert!(
            !text.contains(&secret),
            "{what} holds key material {secret:?}:\n{text}"
        );
    }
}

/// A manifest for `component` with the three test keys, copied beside it
/// with mode 0600 (`key_mode` for the ES256 one), and `body`.
fn keys_manifest(component: &str, body: &str, key_mode: u32) -> TempManifest {
    let m = manifest(
        "keyed",
        component,
        &format!(
            "{body}\n[keys.hmac]\nalgorithm = \"hmac-sha256\"\nenv = \"HMAC_SECRET\"\n\
             [keys.es]\nalgorithm = \"es256\"\nfile = \"es256.pem\"\nkey_id = \"kid-1\"\n\
             [keys.ed]\nalgorithm = \"ed25519\"\nfile = \"ed25519.pem\"\n"
        ),
    );
    let dir = m.path.parent().unwrap();
    for (name, mode) in [("es256.pem", key_mode), ("ed25519.pem", 0o600)] {
        std::fs::copy(testdata(name), dir.join(name)).unwrap();
        std::fs::set_permissions(dir.join(name), std::fs::Permissions::from_mode(mode)).unwrap();
    }
    m
}

/// The headers credbox printed, by name.
fn headers(stdout: &str) -> serde_json::Map<String, serde_json::Value> {
    serde_json::from_str(stdout).expect("a JSON object of headers")
}

fn header<'a>(h: &'a serde_json::Map<String, serde_json::Value>, name: &str) -> &'a str {
    h.get(name)
        .and_then(|v| v.as_str())
        .unwrap_or_else(|| panic!("no {name} in {h:?}"))
}

/// `label=answer` pairs of one `X-Key-<i>` header.
fn answers(value: &str) -> std::collections::BTreeMap<&str, &str> {
    value
        .split(';')
        .map(|pair| pair.split_once('=').unwrap())
        .collect()
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    use hmac::Mac as _;
    let mut mac = <hmac::Hmac<sha2::Sha256> as hmac::Mac>::new_from_slice(key).unwrap();
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// Every file under `dir`, with its contents.
fn files_under(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(files_under(&path));
        } else if let Ok(bytes) = std::fs::read(&path) {
            found.push((path, bytes));
        }
    }
    found
}

#[test]
fn a_hostile_helper_gets_signatures_and_public_keys_never_a_key() {
    let dir = tempfile::tempdir().unwrap();
    let m = keys_manifest(
        GUEST_KEY_THIEF,
        &format!(
            "[env]\nallow = [\"API_KEY\"]\n[config]\nKEYS = \"hmac,es,ed\"\n\
             KEY_VARIABLE = \"HMAC_SECRET\"\nKEY_FILE = {:?}\n",
            dir.path().join("es256.pem")
        ),
        0o600,
    );
    let cache = Cache::new();
    let env = [("HMAC_SECRET", HMAC_SECRET), ("API_KEY", "api-key-1")];
    let out = cache.run(&["run", "-vv", m.arg()], &env);
    let h = headers(out.ok());

    // Each key signs with its own algorithm, and only with it.
    let hmac = answers(header(&h, "X-Key-0"));
    assert_eq!(hmac["info"], "", "no public key, no key id");
    assert_eq!(
        hmac["hmac-sha256"],
        hex(&hmac_sha256(HMAC_SECRET.as_bytes(), b"credbox"))
    );
    let es = answers(header(&h, "X-Key-1"));
    assert_eq!(es["info"], format!("{ES256_PUBLIC}{}", hex(b"kid-1")));
    {
        use p256::ecdsa::signature::Verifier as _;
        let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(&unhex(ES256_PUBLIC)).unwrap();
        let signature = p256::ecdsa::Signature::from_slice(&unhex(es["es256"])).unwrap();
        key.verify(b"credbox", &signature)
            .expect("an ES256 signature of the key");
    }
    let ed = answers(header(&h, "X-Key-2"));
    assert_eq!(ed["info"], ED25519_PUBLIC);
    {
        let key =
            ed25519_dalek::VerifyingKey::from_bytes(&unhex(ED25519_PUBLIC).try_into().unwrap())
                .unwrap();
        let signature = ed25519_dalek::Signature::from_slice(&unhex(ed["ed25519"])).unwrap();
        key.verify_strict(b"credbox", &signature)
            .expect("an Ed25519 signature of the key");
    }
    for (key, own) in [(&hmac, "hmac-sha256"), (&es, "es256"), (&ed, "ed25519")] {
        for other in ["hmac-sha256", "es256", "ed25519"]
            .into_iter()
            .filter(|a| *a != own)
        {
            assert_eq!(
                key[other], "error:misconfigured",
                "{own} key asked for {other}"
            );
        }
        assert_eq!(key["big"], "error:misconfigured", "64 KiB + 1 bytes");
    }
    // Unknown and hostile names: misconfigured, every call.
    for i in 3..7 {
        for (label, answer) in answers(header(&h, &format!("X-Key-{i}"))) {
            assert_eq!(answer, "error:misconfigured", "X-Key-{i} {label}");
        }
    }
    // The variable holding the HMAC key is not the helper's to read, nor
    // any file.
    assert_eq!(header(&h, "X-Config"), hex(b"none"));
    assert_eq!(header(&h, "X-Env-Names"), "[API_KEY]");
    for i in 0..3 {
        assert!(
            header(&h, &format!("X-File-{i}")).starts_with("error:"),
            "X-File-{i}"
        );
    }
    // The log got every error message, and the key in none of them.
    assert!(
        out.stderr
            .contains("no key `HMAC`: the manifest's [keys] names ed, es, hmac"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("key `es` is an es256 key, not hmac-sha256"),
        "{}",
        out.stderr
    );

    assert_no_key("stdout", out.stdout.as_bytes());
    assert_no_key("stderr", out.stderr.as_bytes());
    let cached = files_under(&cache.path());
    assert!(
        cached
            .iter()
            .any(|(p, _)| p.extension().is_some_and(|e| e == "json"))
    );
    for (path, bytes) in cached {
        assert_no_key(&path.display().to_string(), &bytes);
    }
}

#[test]
fn the_cache_keeps_credentials_of_different_keys_apart() {
    let m = keys_manifest(
        GUEST_STATE_AND_KEYS,
        "[config]\nKEY = \"hmac\"\nSIGN_DATA = \"ts-1\"\n",
        0o600,
    );
    let cache = Cache::new();
    let sign = |secret: &str| {
        let out = cache.run(&["run", m.arg()], &[("HMAC_SECRET", secret)]);
        header(&headers(out.ok()), "X-Sign").to_owned()
    };
    assert_eq!(
        sign("first-secret"),
        hex(&hmac_sha256(b"first-secret", b"ts-1"))
    );
    // Another key is another credential: not the one cached for the first.
    assert_eq!(
        sign("second-secret"),
        hex(&hmac_sha256(b"second-secret", b"ts-1"))
    );
    assert_eq!(
        sign("first-secret"),
        hex(&hmac_sha256(b"first-secret", b"ts-1"))
    );
    let entries = files_under(&cache.path().join("credentials"))
        .into_iter()
        .filter(|(p, _)| p.extension().is_some_and(|e| e == "json"))
        .count();
    assert_eq!(entries, 2);
}

#[test]
fn unusable_key_files_fail_the_run_before_the_helper_starts_and_doctor_names_them() {
    // The helper signs with the HMAC key only; the Ed25519 file is no key.
    let m = keys_manifest(
        GUEST_STATE_AND_KEYS,
        "[config]\nKEY = \"hmac\"\nSIGN_DATA = \"ts-1\"\n",
        0o600,
    );
    let key = m.path.parent().unwrap().join("ed25519.pem");
    std::fs::write(&key, "not a key\n").unwrap();
    let cache = Cache::new();
    let env = [("HMAC_SECRET", HMAC_SECRET)];
    // A cache hit does not read key files, so a run reads every one before
    // its helper starts: an unusable key fails it, used or not.
    let unusable = format!(
        "[keys.ed] file: {}: expected a PEM PRIVATE KEY block",
        key.display()
    );
    cache.run(&["run", m.arg()], &env).fails(2, &unusable);
    let out = cache.run(&["doctor", m.arg()], &env);
    assert_eq!(out.code, 10, "{out:#?}");
    assert!(
        out.stdout.contains(&format!("✗ key ed: {unusable} (")),
        "{}",
        out.stdout
    );
    std::fs::copy(testdata("ed25519.pem"), &key).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    for _ in 0..2 {
        let out = cache.run(&["run", m.arg()], &env);
        assert_eq!(
            header(&headers(out.ok()), "X-Sign"),
            hex(&hmac_sha256(HMAC_SECRET.as_bytes(), b"ts-1"))
        );
    }

    // Likewise a client certificate's key that is not the certificate's.
    let m = keys_manifest(
        GUEST_STATE_AND_KEYS,
        &format!(
            "[config]\nKEY = \"hmac\"\nSIGN_DATA = \"ts-1\"\n\
             [network]\nallow = [\"https://127.0.0.1:9\"]\n\
             [[network.client_cert]]\norigin = \"https://127.0.0.1:9\"\n\
             cert = {:?}\nkey = \"es256.pem\"\n",
            credbox_test_artifacts::tls::CLIENT_CERT
        ),
        0o600,
    );
    let key = m.path.parent().unwrap().join("es256.pem");
    let mismatch = format!(
        "key: {} is not the key of the certificate in {}",
        key.display(),
        credbox_test_artifacts::tls::CLIENT_CERT
    );
    cache
        .run(&["run", m.arg()], &env)
        .fails(2, &format!("[[network.client_cert]] 1 {mismatch}"));
    let out = cache.run(&["doctor", m.arg()], &env);
    assert_eq!(out.code, 10, "{out:#?}");
    assert!(
        out.stdout
            .contains(&format!("✗ https://127.0.0.1:9: {mismatch} (")),
        "{}",
        out.stdout
    );
}

#[test]
fn keys_the_helper_could_read_or_others_could_are_refused() {
    let cache = Cache::new();
    // The key's variable in [env] allow would hand it to the helper.
    let m = keys_manifest(
        GUEST_STATE_AND_KEYS,
        "[env]\nallow = [\"HMAC_SECRET\"]\n",
        0o600,
    );
    let out = cache.run(&["run", m.arg()], &[("HMAC_SECRET", HMAC_SECRET)]);
    out.fails(
        2,
        "[keys.hmac] env: HMAC_SECRET is also in [env] allow (or --allow-env)",
    );
    let m = keys_manifest(GUEST_STATE_AND_KEYS, "", 0o600);
    let out = cache.run(
        &["run", m.arg(), "--allow-env", "HMAC_SECRET"],
        &[("HMAC_SECRET", HMAC_SECRET)],
    );
    out.fails(2, "[keys.hmac] env: HMAC_SECRET is also in [env] allow");
    assert_no_key("stderr", out.stderr.as_bytes());

    // A key file others may read: refused as ssh refuses it.
    let m = keys_manifest(GUEST_STATE_AND_KEYS, "", 0o644);
    let key = m.path.parent().unwrap().join("es256.pem");
    let out = cache.run(&["run", m.arg()], &[("HMAC_SECRET", HMAC_SECRET)]);
    out.fails(
        2,
        &format!(
            "[keys.es] file: {} is readable or writable by group or others (mode 644): a private key must not be; run `chmod 600 {}`",
            key.display(),
            key.display()
        ),
    );

    // An unset variable: the helper's call fails as misconfigured.
    let m = keys_manifest(GUEST_STATE_AND_KEYS, "[config]\nKEY = \"hmac\"\n", 0o600);
    let out = cache.run(&["run", m.arg()], &[]);
    let h = headers(out.ok());
    assert_eq!(
        header(&h, "X-Key-Algorithm"),
        "error:misconfigured",
        "{h:?}"
    );
}
