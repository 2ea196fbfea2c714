//! The cache key: a fingerprint of everything that could change the
//! answer, and the component file's identity in it.

use std::path::Path;
use std::time::SystemTime;

use crate::error::{Error, Result};
use crate::files::{self, Links};
use crate::fingerprint::{self, Fingerprinter};
use crate::platform;
use crate::policy::Policy;
use crate::request::Request;
use crate::units::hex_sha256;

/// Identifies a cache entry: lowercase hex SHA-256 of the run's inputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheKey(String);

impl CacheKey {
    /// The key for running `policy`'s component (identified by
    /// `component`, its [`component_stamp`]) on `request`, with the
    /// allowlisted environment `env`. Every field of the policy and the
    /// request is part of it (see [`crate::fingerprint`]); the values of
    /// `env` are hashed, never stored.
    pub fn new(
        policy: &Policy,
        component: &str,
        request: &Request,
        env: &[(String, String)],
    ) -> CacheKey {
        let mut f = Fingerprinter::new("credbox-credential-cache-v3");
        f.field("component", component);
        f.field("policy", policy);
        f.field("request", request);
        f.field("env", env);
        CacheKey(f.finish())
    }

    /// A key read back from its hex form (an entry's file name), or
    /// `None` unless it is 64 lowercase hex digits.
    pub fn parse(hex: &str) -> Option<CacheKey> {
        (hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
            .then(|| CacheKey(hex.to_owned()))
    }

    /// The key as hex.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The component file's identity for the cache key, from its metadata
/// alone: device, inode, size, and modification and change times in
/// nanoseconds.
///
/// A hit must not cost reading and hashing the whole component (that was
/// a third of a cached answer's time). Any rebuild, copy or edit changes
/// the change time at least, so it is a miss, and a miss reads the file,
/// checks its `sha256` pin and compiles by content digest as before.
///
/// Two writes within one tick of the file system's clock can leave the
/// same times, so, as git does with its index, metadata is not trusted for
/// a file changed in the last [`fingerprint::RACY_WINDOW`] (see
/// [`fingerprint::stamp_is_settled`], the rule key files follow too): such
/// a file is identified
/// by the SHA-256 of its contents instead.
///
/// The file is never opened when it is not a regular file (a FIFO would
/// block the open), and never read past `cap` bytes.
pub fn component_stamp(path: &Path, cap: u64) -> Result<String> {
    component_stamp_at(path, cap, SystemTime::now())
}

fn component_stamp_at(path: &Path, cap: u64, now: SystemTime) -> Result<String> {
    let unreadable = |e: std::io::Error| {
        Error::Usage(format!(
            "cannot read component {}: {e}; build it first (see the README)",
            path.display()
        ))
    };
    let meta = std::fs::metadata(path).map_err(unreadable)?;
    if !meta.is_file() {
        return Err(Error::Usage(format!(
            "component {} is {}, not a regular file",
            path.display(),
            files::kind_name(&meta.file_type())
        )));
    }
    let stamp = platform::FileStamp::of(&meta);
    if !fingerprint::stamp_is_settled(&stamp, now) {
        let bytes = files::read_regular(path, cap, Links::Follow)
            .map_err(|e| Error::Usage(format!("cannot read component {}: {e}", path.display())))?;
        return Ok(format!("sha256:{}", hex_sha256(&bytes)));
    }
    Ok(format!("stat:{stamp}"))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::cache::testing::policy;
    use crate::manifest::{Format, NetworkTable};
    use crate::platform::testing::set_mode;
    use crate::policy::network::NetworkPolicy;
    use std::time::Duration;

    #[test]
    fn keys_change_with_every_input() {
        let p = policy();
        let r = Request::default();
        let base = CacheKey::new(&p, "aa", &r, &[]);
        assert_eq!(base, CacheKey::new(&p, "aa", &r, &[]), "stable");
        let bundle = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/tls/ca.pem");
        let network =
            |config: NetworkTable| NetworkPolicy::from_config(&config, Path::new(".")).unwrap();

        // One change to each field of the policy (see Policy's Fingerprint:
        // a field added there must be added here too).
        type Change = Box<dyn Fn(&mut Policy)>;
        let changes: Vec<(&str, Change)> = vec![
            ("name", Box::new(|p| p.name = "other".into())),
            ("sha256", Box::new(|p| p.sha256 = Some("0".repeat(64)))),
            ("limits.fuel", Box::new(|p| p.limits.fuel += 1)),
            (
                "limits.timeout",
                Box::new(|p| p.limits.timeout += Duration::from_millis(1)),
            ),
            ("limits.memory", Box::new(|p| p.limits.memory += 1 << 20)),
            (
                "limits.component_size",
                Box::new(|p| p.limits.component_size += 1),
            ),
            ("env", Box::new(|p| p.env.allow("API_TOKEN").unwrap())),
            (
                "config",
                Box::new(|p| p.config.set_from_flag("K=V").unwrap()),
            ),
            (
                "cache.ttl",
                Box::new(|p| p.cache.ttl += Duration::from_secs(1)),
            ),
            ("cache.share", Box::new(|p| p.cache.share = true)),
            (
                "cache.stale_if_error",
                Box::new(|p| p.cache.stale_if_error += Duration::from_secs(1)),
            ),
            (
                "cache.backoff",
                Box::new(|p| p.cache.backoff += Duration::from_secs(1)),
            ),
            (
                "network.allow",
                Box::new(|p| p.network.allow("https://a.example").unwrap()),
            ),
            (
                "network.ca_bundle",
                Box::new(move |p| {
                    p.network = network(NetworkTable {
                        ca_bundle: Some(bundle.clone()),
                        ..NetworkTable::default()
                    })
                }),
            ),
            (
                "network.private_ranges",
                Box::new(move |p| {
                    p.network = network(NetworkTable {
                        private_ranges: vec!["10.20.0.0/16".into()],
                        ..NetworkTable::default()
                    })
                }),
            ),
            (
                "network.client_cert",
                Box::new(move |p| {
                    let tls = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/tls");
                    let dir = tempfile::tempdir().unwrap();
                    std::fs::copy(tls.join("client.key"), dir.path().join("k")).unwrap();
                    set_mode(&dir.path().join("k"), 0o600);
                    let config = NetworkTable {
                        allow: vec!["https://a.example".into()],
                        client_cert: vec![crate::manifest::ClientCertTable {
                            origin: "https://a.example".into(),
                            cert: tls.join("client.pem"),
                            key: dir.path().join("k"),
                        }],
                        ..NetworkTable::default()
                    };
                    p.network = NetworkPolicy::from_config(&config, Path::new(".")).unwrap();
                }),
            ),
            (
                "keys",
                Box::new(|p| {
                    let table = crate::manifest::parse(
                        "component = \"a.wasm\"\n[keys.k]\nalgorithm = \"hmac-sha256\"\nenv = \"K\"\n",
                    )
                    .unwrap()
                    .keys;
                    p.keys = crate::policy::keys::KeysPolicy::from_config(
                        &table,
                        Path::new("."),
                        |_| Some("secret".into()),
                    )
                    .unwrap();
                }),
            ),
        ];
        let mut seen = vec![base.clone()];
        let mut check = |what: &str, key: CacheKey| {
            assert!(
                !seen.contains(&key),
                "changing {what} did not change the key"
            );
            seen.push(key);
        };
        for (what, change) in &changes {
            let mut changed = p.clone();
            change(&mut changed);
            check(what, CacheKey::new(&changed, "aa", &r, &[]));
        }
        // The component is identified by its stamp (component_stamp), not
        // its path.
        let mut moved = p.clone();
        moved.component = "elsewhere/h.wasm".into();
        assert_eq!(base, CacheKey::new(&moved, "aa", &r, &[]));
        // The output format only renders: the request says what the
        // helper is asked (see the request changes below).
        let mut rendered = p.clone();
        rendered.format = Format::ApiKey;
        assert_eq!(base, CacheKey::new(&rendered, "aa", &r, &[]));
        check("the component's stamp", CacheKey::new(&p, "ab", &r, &[]));
        // The request, field by field, and the environment's values.
        use crate::request::{CargoRequest, Client, GitRequest};
        let git = |f: fn(&mut GitRequest)| {
            let mut g = GitRequest::default();
            f(&mut g);
            Request::new(Client::Git(g))
        };
        let cargo = |f: fn(&mut CargoRequest)| {
            let mut c = CargoRequest::default();
            f(&mut c);
            Request::new(Client::Cargo(c))
        };
        let request_changes = [
            Request::new(Client::ApiKey),
            Request::new(Client::Headers {
                mcp_server_name: Some("github".into()),
                mcp_server_url: None,
            }),
            Request::new(Client::Headers {
                mcp_server_name: None,
                mcp_server_url: Some("https://mcp.example".into()),
            }),
            Request::new(Client::Aws),
            Request::new(Client::Any),
            Request::new(Client::Docker {
                server_url: String::new(),
            }),
            Request::new(Client::Docker {
                server_url: "ghcr.io".into(),
            }),
            Request::new(Client::Kubernetes { server: None }),
            Request::new(Client::Kubernetes {
                server: Some("https://k8s.example".into()),
            }),
            git(|_| {}),
            git(|g| g.protocol = Some("https".into())),
            git(|g| g.host = Some("example.com".into())),
            git(|g| g.path = Some("org/repo.git".into())),
            git(|g| g.username = Some("me".into())),
            git(|g| g.wwwauth = vec!["Bearer realm=x".into()]),
            cargo(|_| {}),
            cargo(|c| c.registry_name = Some("corp".into())),
            cargo(|c| c.index_url = "sparse+https://r.example/".into()),
            cargo(|c| c.operation = "publish".into()),
            cargo(|c| c.crate_name = Some("serde".into())),
        ];
        for (i, request) in request_changes.iter().enumerate() {
            check(
                &format!("request field {i}"),
                CacheKey::new(&p, "aa", request, &[]),
            );
        }
        check(
            "env",
            CacheKey::new(&p, "aa", &r, &[("T".into(), "1".into())]),
        );
        check(
            "env value",
            CacheKey::new(&p, "aa", &r, &[("T".into(), "2".into())]),
        );
    }

    #[test]
    fn the_component_stamp_follows_the_file_not_its_name() {
        const CAP: u64 = 1 << 20;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.wasm");
        std::fs::write(&path, b"one").unwrap();
        // Long after the last change: the metadata is the identity.
        let later = SystemTime::now() + Duration::from_secs(3600);
        let first = component_stamp_at(&path, CAP, later).unwrap();
        assert!(first.starts_with("stat:"), "{first}");
        assert_eq!(
            component_stamp_at(&path, CAP, later).unwrap(),
            first,
            "stable"
        );
        std::fs::write(&path, b"twotwo").unwrap();
        let second = component_stamp_at(&path, CAP, later).unwrap();
        assert_ne!(second, first, "rewritten in place");
        // Rewritten in place with the same size, and its modification time
        // set back: same device, inode, size and mtime, so the change time
        // alone tells (the file system's clock is coarse: let it tick
        // first).
        let mtime = std::fs::metadata(&path).unwrap().modified().unwrap();
        std::thread::sleep(Duration::from_millis(20));
        std::fs::write(&path, b"TWOTWO").unwrap();
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(mtime)
            .unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().modified().unwrap(), mtime);
        assert_ne!(
            component_stamp_at(&path, CAP, later).unwrap(),
            second,
            "rewritten in place, same size"
        );

        // Just changed: the contents are.
        std::fs::write(&path, b"one").unwrap();
        assert_eq!(
            component_stamp(&path, CAP).unwrap(),
            format!("sha256:{}", hex_sha256(b"one"))
        );

        let err = component_stamp(&dir.path().join("missing.wasm"), CAP).unwrap_err();
        assert!(
            matches!(err, Error::Usage(ref m) if m.contains("build it first")),
            "{err}"
        );
        let err = component_stamp(dir.path(), CAP).unwrap_err();
        assert!(
            err.to_string()
                .ends_with("is a directory, not a regular file"),
            "{err}"
        );
    }
}
