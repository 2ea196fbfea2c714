//! Keys credbox holds (`[keys]`), end to end through real components:
//! `tests/guests/key-thief` tries every way a helper has to get a key's
//! bytes, and none of them may appear in what it got, in credbox's output,
//! its messages and logs, or its cache. Signatures are checked
//! independently, with the public keys openssl derives.

use std::os::unix::fs::PermissionsExt;

use credbox_test_artifacts::{GUEST_KEY_THIEF, GUEST_STATE_AND_KEYS};

use crate::support::crypto::{hex, hmac_sha256, unhex};
use crate::support::secrets::{assert_no_secret, files_under};
use crate::support::testkeys::{ED25519_PUBLIC, ES256_PUBLIC, key_file};
use crate::support::util::{Cache, TempManifest, manifest};

/// The HMAC secret, in credbox's environment only.
const HMAC_SECRET: &str = "hmac-S3CRET-never-seen-7f41c2";

/// The key material that must never show: the HMAC secret, the P-256
/// scalar, the Ed25519 seed, and each line of the PEM files' bodies
/// ([`assert_no_secret`] looks for each raw and encoded).
fn key_material() -> Vec<Vec<u8>> {
    use ed25519_dalek::pkcs8::DecodePrivateKey as _;
    let es_pem = std::fs::read_to_string(key_file("es256.pem")).unwrap();
    let ed_pem = std::fs::read_to_string(key_file("ed25519.pem")).unwrap();
    let scalar = p256::SecretKey::from_pkcs8_pem(&es_pem)
        .unwrap()
        .to_bytes()
        .to_vec();
    let seed = ed25519_dalek::pkcs8::KeypairBytes::from_pkcs8_pem(&ed_pem)
        .unwrap()
        .secret_key
        .to_vec();
    let mut all = vec![HMAC_SECRET.as_bytes().to_vec(), scalar, seed];
    for pem in [es_pem, ed_pem] {
        all.extend(
            pem.lines()
                .filter(|l| !l.starts_with("-----") && l.len() >= 16)
                .map(|l| l.as_bytes().to_vec()),
        );
    }
    all
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
        std::fs::copy(key_file(name), dir.join(name)).unwrap();
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

    assert_no_secret(
        "key-thief",
        &key_material(),
        &out.streams(),
        Some(&cache.path()),
    );
    assert!(
        files_under(&cache.path())
            .iter()
            .any(|p| p.extension().is_some_and(|e| e == "json"))
    );
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
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
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
    std::fs::copy(key_file("ed25519.pem"), &key).unwrap();
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
    assert_no_secret("refused", &key_material(), &out.streams(), None);

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
