//! Routes: which helper answers for which URL, so that one `credbox`
//! serves many hosts (`credbox git` and `docker-credential-credbox`
//! without a manifest argument, Cargo's provider for many registries).
//!
//! The user's `config.toml` (`$CREDBOX_CONFIG`, else `credbox/config.toml`
//! in the platform's configuration directory: `~/.config` on Linux, or
//! `$XDG_CONFIG_HOME`):
//!
//! ```toml
//! [[route]]
//! url = "https://git.example.com/team"      # scheme, host, port, path prefix
//! manifest = "helpers/team/credbox.toml"     # relative to this file
//!
//! [[route]]
//! url = "*.registry.example.com"             # any scheme; any subdomain
//! manifest = "/opt/helpers/registry/credbox.toml"
//! ```
//!
//! A pattern is `[scheme://]host[:port][/path]`:
//!
//! - the scheme, when given, must equal the request's (of a compound
//!   scheme such as Cargo's `sparse+https`, the transport: `https`);
//! - the host is a name (or an IP address) that must equal the request's,
//!   or `*.suffix`, which any name ending in `.suffix` matches (not
//!   `suffix` itself);
//! - the port must equal the request's, a scheme's default port (80 for
//!   `http`, 443 for `https`) counting as no port;
//! - the path is a prefix by whole segments: `/team` matches `/team` and
//!   `/team/repo.git`, not `/teams`.
//!
//! When several patterns match, the most specific wins, in git's order for
//! `credential.<url>`: an exact host over a wildcard (a longer wildcard
//! suffix over a shorter one), then the longer path prefix, then a pattern
//! with a scheme over one without. Two routes with the same pattern are an
//! error, so the winner is never a matter of order.
//!
//! A missing file means no routes. A file that is there is read strictly:
//! unknown fields and malformed patterns are errors that name the field
//! and its line.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::files::{self, Links, ReadError};

/// The variable that names the routes file (for tests and unusual setups).
pub const CONFIG_ENV: &str = "CREDBOX_CONFIG";
/// Largest routes file read.
const MAX_CONFIG_SIZE: u64 = 1 << 20;

/// The user's routes file, as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    /// `[[route]]` entries.
    #[serde(default)]
    route: Vec<RouteEntry>,
}

/// One `[[route]]`, as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteEntry {
    url: UrlPattern,
    manifest: PathBuf,
}

/// One route: the URLs it covers and the manifest of the helper that
/// answers for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The pattern, parsed.
    pub pattern: UrlPattern,
    /// The manifest, absolute (or as written, when the routes did not come
    /// from a file).
    pub manifest: PathBuf,
}

/// The user's routes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Routes {
    routes: Vec<Route>,
    /// The file they came from, for messages.
    source: Option<PathBuf>,
}

impl Routes {
    /// The routes of the user's configuration: [`CONFIG_ENV`] or the
    /// platform's `credbox/config.toml`; none when the file does not exist.
    pub fn load() -> Result<Routes> {
        match config_path() {
            Some(path) => Routes::load_from(&path),
            None => Ok(Routes::default()),
        }
    }

    /// The routes in the file at `path` (none when there is no such file).
    /// Relative manifest paths are taken from the file's folder.
    pub fn load_from(path: &Path) -> Result<Routes> {
        let bytes = match files::read_regular(path, MAX_CONFIG_SIZE, Links::Follow) {
            Ok(bytes) => bytes,
            Err(ReadError::NotFound) => return Ok(Routes::default()),
            Err(e) => {
                return Err(Error::Usage(format!(
                    "cannot read the routes file {}: {e}",
                    path.display()
                )));
            }
        };
        let text = String::from_utf8(bytes).map_err(|_| {
            Error::Usage(format!(
                "the routes file {} is not UTF-8 text",
                path.display()
            ))
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let mut routes = Routes::parse(&text)
            .map_err(|e| Error::Usage(format!("routes file {}: {e}", path.display())))?;
        for route in &mut routes.routes {
            route.manifest = base.join(&route.manifest);
        }
        routes.source = Some(path.to_owned());
        Ok(routes)
    }

    /// Parses routes from TOML text; manifest paths stay as written.
    pub fn parse(text: &str) -> std::result::Result<Routes, String> {
        let file: ConfigFile = toml::from_str(text).map_err(|e| {
            let message = e.message().trim_end().replace('\n', " ");
            match e.span() {
                Some(span) => {
                    let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
                    format!("line {line}: {message}")
                }
                None => message,
            }
        })?;
        let mut routes: Vec<Route> = Vec::with_capacity(file.route.len());
        for (i, entry) in file.route.into_iter().enumerate() {
            if let Some(earlier) = routes.iter().position(|r| r.pattern == entry.url) {
                return Err(format!(
                    "route {} has the same url as route {} ({}): which one answers would be a matter of order",
                    i + 1,
                    earlier + 1,
                    entry.url
                ));
            }
            if entry.manifest.as_os_str().is_empty() {
                return Err(format!("route {}: manifest is empty", i + 1));
            }
            routes.push(Route {
                pattern: entry.url,
                manifest: entry.manifest,
            });
        }
        Ok(Routes {
            routes,
            source: None,
        })
    }

    /// The most specific route that covers `url`, if any.
    pub fn lookup(&self, url: &RequestUrl) -> Option<&Route> {
        self.routes
            .iter()
            .filter(|r| r.pattern.matches(url))
            .max_by_key(|r| r.pattern.specificity())
    }

    /// The most specific route that covers the URL `url` (see
    /// [`RequestUrl::parse`]); `None` when no route covers it or it is not
    /// a URL.
    pub fn lookup_url(&self, url: &str) -> Option<&Route> {
        self.lookup(&RequestUrl::parse(url).ok()?)
    }

    /// Whether there are no routes.
    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    /// The file the routes came from, if any.
    pub fn source(&self) -> Option<&Path> {
        self.source.as_deref()
    }
}

/// The path of the user's routes file: [`CONFIG_ENV`], else
/// `credbox/config.toml` in the platform's configuration directory.
pub fn config_path() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(CONFIG_ENV).filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path));
    }
    directories::BaseDirs::new().map(|dirs| dirs.config_dir().join("credbox").join("config.toml"))
}

/// What a client asked about, as a route sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestUrl {
    /// Lowercase scheme, when known.
    pub scheme: Option<String>,
    /// Lowercase host name or address (IPv6 without brackets).
    pub host: String,
    /// The port, unless absent or the scheme's default.
    pub port: Option<u16>,
    /// The path, `/`-separated; empty when unknown.
    pub path: String,
}

impl RequestUrl {
    /// A request URL from its parts: `host` may carry a `:port` (as git's
    /// `host` attribute does); `path` may or may not start with `/`.
    pub fn new(scheme: Option<&str>, host: &str, path: Option<&str>) -> Result<RequestUrl, String> {
        let scheme = scheme.map(transport);
        let (host, port) = split_host_port(host)?;
        if host.is_empty() {
            return Err("no host".into());
        }
        Ok(RequestUrl {
            port: port.filter(|&p| Some(p) != default_port(scheme.as_deref())),
            scheme,
            host,
            path: path.unwrap_or_default().to_owned(),
        })
    }

    /// Parses `[scheme://][user@]host[:port][/path][?query][#fragment]`;
    /// the user, query and fragment are dropped.
    pub fn parse(url: &str) -> Result<RequestUrl, String> {
        let (scheme, rest) = match url.split_once("://") {
            Some((scheme, rest)) => (Some(scheme), rest),
            None => (None, url),
        };
        let rest = rest.split(['?', '#']).next().unwrap_or_default();
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        RequestUrl::new(scheme, authority, Some(path))
    }
}

/// A route's URL pattern (see the module's documentation).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct UrlPattern {
    scheme: Option<String>,
    host: HostPattern,
    port: Option<u16>,
    /// Path segments, without empty ones.
    path: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    /// This host exactly.
    Exact(String),
    /// Any host ending in `.` and this suffix.
    Wildcard(String),
}

impl TryFrom<String> for UrlPattern {
    type Error = String;

    fn try_from(text: String) -> std::result::Result<UrlPattern, String> {
        UrlPattern::parse(&text)
    }
}

impl UrlPattern {
    /// Parses `[scheme://]host[:port][/path]`, where host may start with
    /// `*.`.
    pub fn parse(text: &str) -> std::result::Result<UrlPattern, String> {
        let bad = |why: &str| format!("url: {why} (expected [scheme://]host[:port][/path])");
        if text.contains(['?', '#', '@']) || text.chars().any(|c| c.is_whitespace()) {
            return Err(bad("no user, query, fragment or spaces in a route's url"));
        }
        let (scheme, rest) = match text.split_once("://") {
            Some((scheme, rest)) => {
                let valid = !scheme.is_empty()
                    && scheme
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
                if !valid {
                    return Err(bad("the scheme is not a URL scheme"));
                }
                (Some(transport(scheme)), rest)
            }
            None => (None, text),
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let (host, port) = split_host_port(authority).map_err(|e| bad(&e))?;
        let host = if let Some(suffix) = host.strip_prefix("*.") {
            if suffix.is_empty() || suffix.contains('*') || suffix.starts_with('.') {
                return Err(bad("a wildcard is `*.` before a domain"));
            }
            HostPattern::Wildcard(suffix.to_owned())
        } else if host.is_empty() {
            return Err(bad("no host"));
        } else if host.contains('*') {
            return Err(bad(
                "`*` is allowed only as a whole first label: `*.example.com`",
            ));
        } else {
            HostPattern::Exact(host)
        };
        Ok(UrlPattern {
            port: port.filter(|&p| Some(p) != default_port(scheme.as_deref())),
            scheme,
            host,
            path: segments(path),
        })
    }

    /// Whether `url` is covered.
    pub fn matches(&self, url: &RequestUrl) -> bool {
        if let Some(scheme) = &self.scheme
            && url.scheme.as_deref() != Some(scheme.as_str())
        {
            return false;
        }
        let host_ok = match &self.host {
            HostPattern::Exact(host) => *host == url.host,
            HostPattern::Wildcard(suffix) => url
                .host
                .strip_suffix(suffix.as_str())
                .is_some_and(|head| head.len() > 1 && head.ends_with('.')),
        };
        if !host_ok || self.port != url.port {
            return false;
        }
        let path = segments(&url.path);
        path.len() >= self.path.len() && path.iter().zip(&self.path).all(|(a, b)| a == b)
    }

    /// Orders matching patterns, most specific greatest: the host's
    /// length, then the path's segments, then a scheme. Among patterns
    /// that match one host, an exact host is longer than any wildcard's
    /// suffix (the host ends in `.suffix`), so it wins, and a longer
    /// suffix beats a shorter one.
    fn specificity(&self) -> (usize, usize, bool) {
        let host = match &self.host {
            HostPattern::Exact(h) => h.len(),
            HostPattern::Wildcard(s) => s.len(),
        };
        (host, self.path.len(), self.scheme.is_some())
    }
}

impl std::fmt::Display for UrlPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(scheme) = &self.scheme {
            write!(f, "{scheme}://")?;
        }
        match &self.host {
            HostPattern::Exact(h) if h.contains(':') => write!(f, "[{h}]")?,
            HostPattern::Exact(h) => f.write_str(h)?,
            HostPattern::Wildcard(s) => write!(f, "*.{s}")?,
        }
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        for segment in &self.path {
            write!(f, "/{segment}")?;
        }
        Ok(())
    }
}

/// A scheme as routes compare it: lowercase, and only the transport of a
/// compound scheme (Cargo's `sparse+https` is `https`), so that a route
/// for `https://crates.example.com` covers Cargo's index URL too.
fn transport(scheme: &str) -> String {
    scheme
        .rsplit('+')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase()
}

/// The default port of a (transport) scheme.
fn default_port(scheme: Option<&str>) -> Option<u16> {
    match scheme? {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

/// Splits `host[:port]` (or `[v6]:port`); the host lowercased.
fn split_host_port(authority: &str) -> std::result::Result<(String, Option<u16>), String> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| "an IPv6 address without its `]`".to_owned())?;
        match after {
            "" => (host, None),
            _ => match after.strip_prefix(':') {
                Some(port) => (host, Some(port)),
                None => return Err("text after an IPv6 address".into()),
            },
        }
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let port = match port {
        Some(p) => Some(
            p.parse::<u16>()
                .ok()
                .filter(|&p| p != 0)
                .ok_or_else(|| "the port is not a number from 1 to 65535".to_owned())?,
        ),
        None => None,
    };
    Ok((host.to_ascii_lowercase(), port))
}

/// The non-empty `/`-separated segments of `path`.
fn segments(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The manifest that answers a request about `url`: `named` (from the
/// command line) when given, else the most specific of the user's routes
/// ([`Routes::load`]). `Ok(None)`: no route covers it, so the client gets
/// its protocol's "not mine" answer.
pub fn manifest_for(named: Option<&Path>, url: Option<&RequestUrl>) -> Result<Option<PathBuf>> {
    if let Some(path) = named {
        return Ok(Some(path.to_owned()));
    }
    let Some(url) = url else {
        return Ok(None);
    };
    let routes = Routes::load()?;
    Ok(routes.lookup(url).map(|route| route.manifest.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routes(patterns: &[&str]) -> Routes {
        let text: String = patterns
            .iter()
            .map(|p| format!("[[route]]\nurl = {p:?}\nmanifest = {p:?}\n"))
            .collect();
        Routes::parse(&text).unwrap()
    }

    /// The pattern of the route that answers `url`. The tests list the
    /// expected winner before the patterns it beats: of equals, the last
    /// would win, so order cannot hide a wrong precedence.
    fn winner(routes: &Routes, url: &str) -> Option<String> {
        routes
            .lookup_url(url)
            .map(|r| r.manifest.display().to_string())
    }

    #[test]
    fn an_exact_host_beats_a_wildcard_and_a_longer_wildcard_a_shorter_one() {
        // Listed most specific first: order must not decide (the last of
        // equals would win).
        let r = routes(&["git.example.com", "*.git.example.com", "*.example.com"]);
        assert_eq!(
            winner(&r, "https://git.example.com/x").as_deref(),
            Some("git.example.com")
        );
        assert_eq!(
            winner(&r, "https://a.git.example.com/x").as_deref(),
            Some("*.git.example.com")
        );
        assert_eq!(
            winner(&r, "https://other.example.com").as_deref(),
            Some("*.example.com")
        );
        // A wildcard covers subdomains only, at any depth.
        assert_eq!(
            winner(&r, "https://a.b.example.com").as_deref(),
            Some("*.example.com")
        );
        assert_eq!(winner(&r, "https://example.com"), None);
        assert_eq!(winner(&r, "https://notexample.com"), None);
        assert_eq!(winner(&r, "https://xexample.com"), None);
    }

    #[test]
    fn the_host_decides_before_the_path() {
        // git's order: `*.example.com/team/repo` loses to `git.example.com`.
        let r = routes(&["git.example.com", "*.example.com/team/repo"]);
        assert_eq!(
            winner(&r, "https://git.example.com/team/repo").as_deref(),
            Some("git.example.com")
        );
    }

    #[test]
    fn a_longer_path_prefix_wins_by_whole_segments() {
        let r = routes(&[
            "https://git.example.com/team/special.git",
            "https://git.example.com/team",
            "https://git.example.com",
        ]);
        let w = |url| winner(&r, url);
        assert_eq!(
            w("https://git.example.com/team/special.git").as_deref(),
            Some("https://git.example.com/team/special.git")
        );
        assert_eq!(
            w("https://git.example.com/team/other.git").as_deref(),
            Some("https://git.example.com/team")
        );
        assert_eq!(
            w("https://git.example.com/team/").as_deref(),
            Some("https://git.example.com/team")
        );
        // `/team` is not a prefix of `/teams`.
        assert_eq!(
            w("https://git.example.com/teams/x").as_deref(),
            Some("https://git.example.com")
        );
        assert_eq!(
            w("https://git.example.com").as_deref(),
            Some("https://git.example.com")
        );
    }

    #[test]
    fn a_scheme_must_match_and_beats_no_scheme() {
        let r = routes(&["https://registry.example.com", "registry.example.com"]);
        assert_eq!(
            winner(&r, "https://registry.example.com").as_deref(),
            Some("https://registry.example.com")
        );
        assert_eq!(
            winner(&r, "http://registry.example.com").as_deref(),
            Some("registry.example.com")
        );
        let only_https = routes(&["https://registry.example.com"]);
        assert_eq!(winner(&only_https, "http://registry.example.com"), None);
        assert_eq!(winner(&only_https, "registry.example.com"), None);
    }

    #[test]
    fn ports_must_match_and_default_ports_count_as_none() {
        let r = routes(&["https://h.example", "http://127.0.0.1:5000"]);
        assert!(winner(&r, "https://h.example:443/x").is_some());
        assert_eq!(winner(&r, "https://h.example:8443/x"), None);
        assert!(winner(&r, "http://127.0.0.1:5000").is_some());
        assert_eq!(winner(&r, "http://127.0.0.1:5001"), None);
        assert_eq!(winner(&r, "http://127.0.0.1"), None);
        let explicit = routes(&["https://h.example:443"]);
        assert!(winner(&explicit, "https://h.example").is_some());
        let v6 = routes(&["http://[::1]:8080"]);
        assert!(winner(&v6, "http://[::1]:8080/v2/").is_some());
    }

    #[test]
    fn hosts_and_schemes_compare_without_case() {
        let r = routes(&["HTTPS://Git.Example.COM"]);
        assert!(winner(&r, "https://git.example.com").is_some());
        let url = RequestUrl::new(Some("HTTPS"), "GIT.example.com:443", Some("a/b")).unwrap();
        assert!(r.lookup(&url).is_some());
    }

    #[test]
    fn bad_patterns_and_unknown_fields_name_the_field_and_line() {
        let err =
            Routes::parse("[[route]]\nurl = \"https://h\"\nmanifest = \"m\"\nmanfest = \"x\"\n")
                .unwrap_err();
        assert!(err.starts_with("line 4: unknown field `manfest`"), "{err}");
        let err = Routes::parse("[[route]]\nmanifest = \"m\"\nurl = \"https://*h.example\"\n")
            .unwrap_err();
        assert!(err.starts_with("line 3: url: `*` is allowed only"), "{err}");
        for bad in [
            "https://user@h.example",
            "https://h.example:99999",
            "https://h.example/?q",
            "*.",
            "",
            "https://",
            "ht tp://h",
        ] {
            let text = format!("[[route]]\nurl = {bad:?}\nmanifest = \"m\"\n");
            let err = Routes::parse(&text).unwrap_err();
            assert!(err.starts_with("line 2: url: "), "{bad}: {err}");
        }
        let err = Routes::parse("[[route]]\nurl = \"h\"\n").unwrap_err();
        assert!(err.contains("missing field `manifest`"), "{err}");
        let err = Routes::parse("[routes]\n").unwrap_err();
        assert!(err.contains("unknown field `routes`"), "{err}");
    }

    #[test]
    fn the_same_pattern_twice_is_an_error() {
        let text = "[[route]]\nurl = \"https://h.example/\"\nmanifest = \"a\"\n\
                    [[route]]\nurl = \"HTTPS://h.example:443\"\nmanifest = \"b\"\n";
        let err = Routes::parse(text).unwrap_err();
        assert!(err.contains("route 2 has the same url as route 1"), "{err}");
    }

    #[test]
    fn relative_manifests_are_taken_from_the_files_folder_and_a_missing_file_is_no_routes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        assert!(Routes::load_from(&path).unwrap().is_empty());
        std::fs::write(
            &path,
            "[[route]]\nurl = \"h.example\"\nmanifest = \"helpers/h/credbox.toml\"\n",
        )
        .unwrap();
        let routes = Routes::load_from(&path).unwrap();
        assert_eq!(
            routes.lookup_url("h.example").unwrap().manifest,
            dir.path().join("helpers/h/credbox.toml")
        );
        std::fs::write(&path, "[[route]]\nurl = 5\n").unwrap();
        let err = Routes::load_from(&path).unwrap_err().to_string();
        assert!(err.contains("config.toml: line 2"), "{err}");
    }

    #[test]
    fn request_urls_parse_docker_and_cargo_forms() {
        let url = RequestUrl::parse("https://index.docker.io/v1/").unwrap();
        assert_eq!(
            (
                url.scheme.as_deref(),
                url.host.as_str(),
                url.port,
                url.path.as_str()
            ),
            (Some("https"), "index.docker.io", None, "/v1/")
        );
        let url = RequestUrl::parse("127.0.0.1:5000").unwrap();
        assert_eq!((url.scheme, url.port), (None, Some(5000)));
        let url = RequestUrl::parse("sparse+https://crates.example:443/index/").unwrap();
        assert_eq!((url.scheme.as_deref(), url.port), (Some("https"), None));
        let r = routes(&["https://crates.example/index"]);
        assert!(winner(&r, "sparse+https://crates.example/index/config.json").is_some());
        let r = routes(&["sparse+HTTPS://crates.example"]);
        assert!(winner(&r, "https://crates.example").is_some());
        assert!(RequestUrl::parse("https://h:x").is_err());
        assert!(RequestUrl::parse("").is_err());
    }
}
