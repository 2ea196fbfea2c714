//! URLs as the client needs them: parsed and checked once, reduced to an
//! origin for comparisons and messages, and joined with a redirect's
//! `Location`.

use std::fmt;

use ::http::Uri;

/// An absolute `http` or `https` URL, without user info or fragment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    /// The whole URL.
    pub uri: Uri,
    /// Its origin.
    pub origin: Origin,
}

/// Scheme, host and effective port: what credbox's allowlist, and the
/// decision to keep `Authorization` across a redirect, look at.
///
/// Shown as `scheme://host[:port]`, the port only when it is not the
/// scheme's default: the form credbox uses in its own messages. Paths and
/// queries are never shown, as they can carry secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Origin {
    /// `https` rather than `http`.
    pub https: bool,
    /// Lowercase, without a trailing dot; IPv6 in brackets.
    pub host: String,
    /// The effective port.
    pub port: u16,
}

impl Origin {
    fn default_port(https: bool) -> u16 {
        if https { 443 } else { 80 }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.https { "https" } else { "http" };
        write!(f, "{scheme}://{}", self.host)?;
        if self.port != Origin::default_port(self.https) {
            write!(f, ":{}", self.port)?;
        }
        Ok(())
    }
}

impl Target {
    /// Parses `url`; `Err` says what is wrong with it, quoting it without
    /// its query (which may hold a secret).
    pub fn parse(url: &str) -> Result<Target, String> {
        let shown = url.split(['?', '#']).next().unwrap_or_default();
        let bad = |why: &str| format!("{why}: {shown}");
        let uri: Uri = url.parse().map_err(|_| bad("not a valid URL"))?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(bad("not an http:// or https:// URL")),
        };
        let authority = uri.authority().ok_or_else(|| bad("no host in URL"))?;
        if authority.as_str().contains('@') {
            return Err("user info (user:password@) in a URL is not supported; send credentials in a header".into());
        }
        let host = authority.host();
        if host.is_empty() {
            return Err(bad("no host in URL"));
        }
        let origin = Origin {
            https,
            host: host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase(),
            port: authority.port_u16().unwrap_or(Origin::default_port(https)),
        };
        Ok(Target { uri, origin })
    }

    /// `host[:port]` as written in the URL.
    pub fn authority(&self) -> &str {
        self.uri.authority().map_or("", |a| a.as_str())
    }

    /// The path and query, `/` when the URL has neither.
    pub fn path_and_query(&self) -> &str {
        self.uri.path_and_query().map_or("/", |p| p.as_str())
    }

    /// Resolves a redirect's `Location` against this URL (RFC 3986 §5.2;
    /// any fragment dropped) and parses the result.
    pub fn join(&self, location: &str) -> Result<Target, String> {
        Target::parse(&resolve(&self.uri, location))
    }
}

/// RFC 3986 §5.2.2 reference resolution of `reference` against `base`, an
/// absolute URL; the fragment is dropped, as it is never sent.
fn resolve(base: &Uri, reference: &str) -> String {
    let reference = reference.split('#').next().unwrap_or_default();
    if has_scheme(reference) {
        return reference.to_owned();
    }
    let scheme = base.scheme_str().unwrap_or("https");
    if let Some(rest) = reference.strip_prefix("//") {
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path_query) = rest.split_at(end);
        let (path, query) = split_query(path_query);
        return assemble(scheme, authority, &remove_dot_segments(path), query);
    }
    let authority = base.authority().map_or("", |a| a.as_str());
    let base_path = base.path();
    let (path, query) = split_query(reference);
    if path.is_empty() {
        // No path: the base's, and its query unless the reference has one.
        return assemble(scheme, authority, base_path, query.or(base.query()));
    }
    let path = if path.starts_with('/') {
        remove_dot_segments(path)
    } else {
        // Merge: the base path up to its last `/`, then the reference.
        let dir = &base_path[..base_path.rfind('/').map_or(0, |i| i + 1)];
        let dir = if dir.is_empty() { "/" } else { dir };
        remove_dot_segments(&format!("{dir}{path}"))
    };
    assemble(scheme, authority, &path, query)
}

/// Whether `reference` starts with `scheme:` (RFC 3986 §3.1).
fn has_scheme(reference: &str) -> bool {
    let Some(colon) = reference.find(':') else {
        return false;
    };
    let scheme = &reference[..colon];
    scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// Splits `path?query`.
fn split_query(text: &str) -> (&str, Option<&str>) {
    match text.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (text, None),
    }
}

fn assemble(scheme: &str, authority: &str, path: &str, query: Option<&str>) -> String {
    let path = if path.is_empty() { "/" } else { path };
    match query {
        Some(query) => format!("{scheme}://{authority}{path}?{query}"),
        None => format!("{scheme}://{authority}{path}"),
    }
}

/// RFC 3986 §5.2.4 for an absolute path: `.` segments go, `..` removes the
/// one before it.
fn remove_dot_segments(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let mut segments = path.strip_prefix('/').unwrap_or(path).split('/').peekable();
    while let Some(segment) = segments.next() {
        let last = segments.peek().is_none();
        match segment {
            "." | ".." => {
                if segment == ".." {
                    out.pop();
                }
                if last {
                    out.push("");
                }
            }
            segment => out.push(segment),
        }
    }
    format!("/{}", out.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(url: &str) -> Target {
        Target::parse(url).unwrap()
    }

    #[test]
    fn origins_are_normalised_and_shown_without_default_ports() {
        let t = target("HTTPS://Auth.Example.COM./oauth/token?secret=1");
        assert_eq!(t.origin.to_string(), "https://auth.example.com");
        assert_eq!(t.origin.port, 443);
        assert_eq!(t.authority(), "Auth.Example.COM.");
        assert_eq!(t.path_and_query(), "/oauth/token?secret=1");
        let t = target("http://127.0.0.1:8080");
        assert_eq!(t.origin.to_string(), "http://127.0.0.1:8080");
        assert_eq!(t.path_and_query(), "/");
        assert_eq!(
            target("https://a.example:443/").origin,
            target("https://a.example/").origin
        );
        assert_ne!(
            target("http://a.example/").origin,
            target("https://a.example/").origin
        );
        assert_ne!(
            target("http://a.example:81/").origin,
            target("http://a.example/").origin
        );
        assert_eq!(
            target("http://[::1]:9/").origin.to_string(),
            "http://[::1]:9"
        );
    }

    #[test]
    fn unsupported_urls_are_refused_without_their_query() {
        for (url, why) in [
            (
                "ftp://files.example/x",
                "not an http:// or https:// URL: ftp://files.example/x",
            ),
            (
                "/just/a/path?k=secret",
                "not an http:// or https:// URL: /just/a/path",
            ),
            (
                "https://exa mple.com/?k=secret",
                "not a valid URL: https://exa mple.com/",
            ),
            (
                "auth.example.com",
                "not an http:// or https:// URL: auth.example.com",
            ),
        ] {
            assert_eq!(Target::parse(url).unwrap_err(), why);
        }
        let err = Target::parse("https://user:pw@auth.example.com/").unwrap_err();
        assert!(!err.contains("pw"), "{err}");
        assert!(err.contains("user info"), "{err}");
    }

    #[test]
    fn locations_resolve_as_rfc_3986_says() {
        let base = target("https://a.example/b/c/d;p?q");
        // RFC 3986 §5.4.1 and §5.4.2, fragments dropped.
        for (location, expected) in [
            ("g", "https://a.example/b/c/g"),
            ("./g", "https://a.example/b/c/g"),
            ("g/", "https://a.example/b/c/g/"),
            ("/g", "https://a.example/g"),
            ("//g", "https://g/"),
            ("?y", "https://a.example/b/c/d;p?y"),
            ("g?y", "https://a.example/b/c/g?y"),
            ("#s", "https://a.example/b/c/d;p?q"),
            ("g#s", "https://a.example/b/c/g"),
            ("", "https://a.example/b/c/d;p?q"),
            (".", "https://a.example/b/c/"),
            ("..", "https://a.example/b/"),
            ("../g", "https://a.example/b/g"),
            ("../..", "https://a.example/"),
            ("../../../g", "https://a.example/g"),
            ("/./g", "https://a.example/g"),
            ("g/../h", "https://a.example/b/c/h"),
            (
                "http://other.example:8080/x?z#f",
                "http://other.example:8080/x?z",
            ),
            ("//other.example/a/../x?z", "https://other.example/x?z"),
        ] {
            assert_eq!(
                resolve(&base.uri, location),
                expected,
                "Location: {location}"
            );
        }
        assert_eq!(
            resolve(&target("http://h.example").uri, "x"),
            "http://h.example/x"
        );
    }

    #[test]
    fn joined_locations_are_checked_like_any_url() {
        let base = target("https://a.example/start");
        let next = base.join("https://b.example:8443/next?x=1").unwrap();
        assert_eq!(next.origin.to_string(), "https://b.example:8443");
        assert_eq!(next.path_and_query(), "/next?x=1");
        assert!(base.join("ftp://b.example/").is_err());
        assert!(base.join("/a path").is_err());
    }
}
