//! Validation: nothing reaches stdout until the whole credential passes.
//!
//! Claude Code sends `headersHelper` output as HTTP headers and the
//! `apiKeyHelper` output as `x-api-key` and `Authorization: Bearer`. A value
//! with CR/LF could inject headers; a bad name makes the client throw; an
//! oversized one is refused by servers; a framing or hop-by-hop header
//! (`Host`, `Content-Length`, `Transfer-Encoding`, `Connection`, ...) is the
//! HTTP client's business, and a helper that sets one could smuggle a
//! request. Every check here rejects the whole credential with a message
//! that names the header but never its value. The name is the helper's
//! text, so the message passes the run's redactor on its way out (see
//! [`crate::error::Error::redacted`]).

use crate::error::Error;
use crate::guest::RawCredential;
use crate::manifest::Format;

/// Most headers a credential may carry.
pub const MAX_HEADERS: usize = 64;
/// Longest header value (servers commonly refuse header lines over 8 KiB).
pub const MAX_VALUE_LEN: usize = 8 << 10;
/// Most bytes of names and values together.
pub const MAX_TOTAL_LEN: usize = 16 << 10;
/// Longest header name.
pub const MAX_NAME_LEN: usize = 256;
/// Longest API key.
pub const MAX_KEY_LEN: usize = 8 << 10;

/// Headers a client must never be told to send: the message framing
/// (RFC 9112 section 6), the target's host, and the hop-by-hop fields of
/// RFC 9110 section 7.6.1 (with the legacy ones clients still honour).
pub const REFUSED_HEADERS: [&str; 11] = [
    "Host",
    "Content-Length",
    "Transfer-Encoding",
    "Connection",
    "Upgrade",
    "TE",
    "Trailer",
    "Expect",
    "Keep-Alive",
    "Proxy-Connection",
    "HTTP2-Settings",
];

/// A credential that passed validation for its format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Validated {
    /// Headers to print as a JSON object.
    Headers(Vec<(String, String)>),
    /// An API key to print alone.
    ApiKey(String),
}

/// Checks `raw` for `format`. For headers, a credential with only a token
/// becomes `Authorization: Bearer <token>`.
pub fn validate(raw: RawCredential, format: Format) -> Result<Validated, Error> {
    match format {
        Format::ApiKey => {
            let token = raw.token.ok_or_else(|| {
                invalid("no token for --format api-key (return Credential::bearer or Credential::token)")
            })?;
            check_key(&token)?;
            Ok(Validated::ApiKey(token))
        }
        Format::Headers => {
            let headers = match (raw.headers.is_empty(), raw.token) {
                (false, _) => raw.headers,
                (true, Some(token)) => {
                    check_key(&token)?;
                    vec![("Authorization".to_owned(), format!("Bearer {token}"))]
                }
                (true, None) => return Err(invalid("no headers and no token")),
            };
            check_headers(&headers)?;
            Ok(Validated::Headers(headers))
        }
    }
}

fn invalid(message: impl Into<String>) -> Error {
    Error::InvalidOutput(message.into())
}

fn check_key(key: &str) -> Result<(), Error> {
    if key.is_empty() {
        return Err(invalid("the token is empty"));
    }
    if key.len() > MAX_KEY_LEN {
        return Err(invalid(format!(
            "the token is {} bytes, more than {MAX_KEY_LEN}",
            key.len()
        )));
    }
    if !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(invalid(
            "the token must be one line of printable ASCII without spaces",
        ));
    }
    Ok(())
}

fn check_headers(headers: &[(String, String)]) -> Result<(), Error> {
    if headers.len() > MAX_HEADERS {
        return Err(invalid(format!(
            "{} headers, more than {MAX_HEADERS}",
            headers.len()
        )));
    }
    let mut total = 0;
    let mut seen: Vec<String> = Vec::with_capacity(headers.len());
    for (name, value) in headers {
        check_name(name)?;
        if let Some(refused) = REFUSED_HEADERS
            .iter()
            .find(|r| r.eq_ignore_ascii_case(name))
        {
            return Err(invalid(format!(
                "header {refused} is the HTTP client's to set, not a credential's \
                 (framing and hop-by-hop headers are refused)"
            )));
        }
        let lower = name.to_ascii_lowercase();
        if seen.contains(&lower) {
            return Err(invalid(format!("header {name} appears twice")));
        }
        seen.push(lower);
        check_value(name, value)?;
        total += name.len() + value.len();
    }
    if total > MAX_TOTAL_LEN {
        return Err(invalid(format!(
            "headers total {total} bytes, more than {MAX_TOTAL_LEN}"
        )));
    }
    Ok(())
}

/// An RFC 9110 token: `!#$%&'*+-.^_`|~`, digits and letters.
fn check_name(name: &str) -> Result<(), Error> {
    let is_tchar = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if name.is_empty() {
        return Err(invalid("a header has an empty name"));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(invalid(format!(
            "a header name is {} bytes, more than {MAX_NAME_LEN}",
            name.len()
        )));
    }
    if !name.bytes().all(is_tchar) {
        // The name is shown as written: the run's redactor masks a secret
        // in it and escapes control characters.
        return Err(invalid(format!(
            "header name `{name}` is not an RFC 9110 token"
        )));
    }
    Ok(())
}

/// Visible ASCII, with inner spaces and tabs; no CR, LF, NUL or other
/// control characters, no leading or trailing whitespace.
fn check_value(name: &str, value: &str) -> Result<(), Error> {
    if value.is_empty() {
        return Err(invalid(format!("header {name} has an empty value")));
    }
    if value.len() > MAX_VALUE_LEN {
        return Err(invalid(format!(
            "header {name} is {} bytes, more than {MAX_VALUE_LEN}",
            value.len()
        )));
    }
    if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
        return Err(invalid(format!("header {name} contains CR, LF or NUL")));
    }
    if !value
        .bytes()
        .all(|b| b.is_ascii_graphic() || b == b' ' || b == b'\t')
    {
        return Err(invalid(format!(
            "header {name} contains control or non-ASCII characters"
        )));
    }
    if value.starts_with([' ', '\t']) || value.ends_with([' ', '\t']) {
        return Err(invalid(format!(
            "header {name} has leading or trailing whitespace"
        )));
    }
    Ok(())
}

/// Checks text that credbox printed before (a cached credential) for
/// `format` again, so that an entry damaged or planted in the cache is
/// never printed: an API key and its newline, or the compact JSON object of
/// headers exactly as [`crate::output::render`] writes it, passing the
/// same checks as a fresh credential.
pub fn check_rendered(output: &str, format: Format) -> Result<(), Error> {
    let body = output
        .strip_suffix('\n')
        .ok_or_else(|| invalid("no final newline"))?;
    match format {
        Format::ApiKey => check_key(body),
        Format::Headers => {
            let headers = parse_header_object(body)?;
            if headers.is_empty() {
                return Err(invalid("no headers"));
            }
            check_headers(&headers)?;
            let rendered = crate::output::render(&Validated::Headers(headers));
            if rendered != output {
                return Err(invalid("not in credbox's own form"));
            }
            Ok(())
        }
    }
}

/// A JSON object of strings, in order, duplicates kept (so that
/// [`check_headers`] sees them).
fn parse_header_object(text: &str) -> Result<Vec<(String, String)>, Error> {
    struct Pairs(Vec<(String, String)>);
    impl<'de> serde::Deserialize<'de> for Pairs {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct Visitor;
            impl<'de> serde::de::Visitor<'de> for Visitor {
                type Value = Pairs;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("a JSON object of strings")
                }
                fn visit_map<A: serde::de::MapAccess<'de>>(
                    self,
                    mut map: A,
                ) -> Result<Pairs, A::Error> {
                    let mut pairs = Vec::new();
                    while let Some(pair) = map.next_entry::<String, String>()? {
                        if pairs.len() > MAX_HEADERS {
                            return Err(serde::de::Error::custom("too many headers"));
                        }
                        pairs.push(pair);
                    }
                    Ok(Pairs(pairs))
                }
            }
            d.deserialize_map(Visitor)
        }
    }
    serde_json::from_str::<Pairs>(text)
        .map(|p| p.0)
        .map_err(|_| invalid("not a JSON object of strings"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> RawCredential {
        RawCredential {
            headers: pairs
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            ..Default::default()
        }
    }

    fn rejects(raw: RawCredential, format: Format, needle: &str) {
        match validate(raw, format) {
            Err(Error::InvalidOutput(m)) => assert!(m.contains(needle), "{m:?} lacks {needle:?}"),
            other => panic!("expected invalid output, got {other:?}"),
        }
    }

    #[test]
    fn good_headers_pass_in_order() {
        let out = validate(
            headers(&[("X-B", "2"), ("Authorization", "Bearer a b")]),
            Format::Headers,
        );
        assert_eq!(
            out.unwrap(),
            Validated::Headers(vec![
                ("X-B".into(), "2".into()),
                ("Authorization".into(), "Bearer a b".into())
            ])
        );
    }

    #[test]
    fn a_token_alone_becomes_a_bearer_header() {
        let raw = RawCredential {
            token: Some("abc".into()),
            ..Default::default()
        };
        assert_eq!(
            validate(raw.clone(), Format::Headers).unwrap(),
            Validated::Headers(vec![("Authorization".into(), "Bearer abc".into())])
        );
        assert_eq!(
            validate(raw, Format::ApiKey).unwrap(),
            Validated::ApiKey("abc".into())
        );
    }

    #[test]
    fn header_names_must_be_tokens() {
        rejects(headers(&[("Bad Header", "v")]), Format::Headers, "RFC 9110");
        rejects(headers(&[("X:Y", "v")]), Format::Headers, "RFC 9110");
        rejects(headers(&[("", "v")]), Format::Headers, "empty name");
        rejects(headers(&[("Ä", "v")]), Format::Headers, "RFC 9110");
    }

    #[test]
    fn header_values_cannot_inject_or_hide() {
        rejects(
            headers(&[("X", "a\r\nInjected: 1")]),
            Format::Headers,
            "CR, LF",
        );
        rejects(headers(&[("X", "a\0")]), Format::Headers, "CR, LF or NUL");
        rejects(headers(&[("X", "a\x1b")]), Format::Headers, "control");
        rejects(headers(&[("X", "é")]), Format::Headers, "non-ASCII");
        rejects(headers(&[("X", " a")]), Format::Headers, "whitespace");
        rejects(headers(&[("X", "a\t")]), Format::Headers, "whitespace");
        rejects(headers(&[("X", "")]), Format::Headers, "empty value");
    }

    #[test]
    fn sizes_counts_and_duplicates_are_capped() {
        let big = "v".repeat(MAX_VALUE_LEN + 1);
        rejects(headers(&[("X", &big)]), Format::Headers, "more than 8192");
        let half = "v".repeat(MAX_VALUE_LEN);
        rejects(
            headers(&[("A", &half), ("B", &half), ("C", "v")]),
            Format::Headers,
            "headers total",
        );
        let many: Vec<(String, String)> = (0..=MAX_HEADERS)
            .map(|i| (format!("X-{i}"), "v".to_string()))
            .collect();
        let raw = RawCredential {
            headers: many,
            ..Default::default()
        };
        rejects(raw, Format::Headers, "65 headers");
        rejects(
            headers(&[("X-A", "1"), ("x-a", "2")]),
            Format::Headers,
            "twice",
        );
    }

    #[test]
    fn api_keys_are_one_printable_word() {
        let key = |k: &str| RawCredential {
            token: Some(k.into()),
            ..Default::default()
        };
        rejects(key("abc def"), Format::ApiKey, "without spaces");
        rejects(key("abc\n"), Format::ApiKey, "printable");
        rejects(key(""), Format::ApiKey, "empty");
        rejects(
            key(&"k".repeat(MAX_KEY_LEN + 1)),
            Format::ApiKey,
            "more than",
        );
        rejects(headers(&[("X", "1")]), Format::ApiKey, "no token");
        rejects(
            RawCredential::default(),
            Format::Headers,
            "no headers and no token",
        );
    }

    #[test]
    fn framing_and_hop_by_hop_headers_are_refused_by_name() {
        for name in [
            "Host",
            "content-length",
            "TRANSFER-ENCODING",
            "Connection",
            "Upgrade",
            "te",
            "Trailer",
            "Expect",
            "Keep-Alive",
            "Proxy-Connection",
        ] {
            match validate(headers(&[("X-Ok", "1"), (name, "v")]), Format::Headers) {
                Err(Error::InvalidOutput(m)) => assert!(
                    m.to_ascii_lowercase().starts_with(&format!(
                        "header {} is the http client's",
                        name.to_ascii_lowercase()
                    )),
                    "{m}"
                ),
                other => panic!("{name} accepted: {other:?}"),
            }
        }
        assert!(validate(headers(&[("Authorization", "Bearer x")]), Format::Headers).is_ok());
        assert!(validate(headers(&[("X-Host", "h")]), Format::Headers).is_ok());
    }

    #[test]
    fn messages_that_quote_a_name_pass_the_redactor() {
        let secret = "Secret-Name-123";
        let redactor = crate::redact::Redactor::new([secret]);
        for pairs in [
            vec![(secret, "")],
            vec![(secret, "a\r\nb")],
            vec![("X", "v"), ("x", "w")],
        ] {
            let pairs: Vec<(&str, &str)> = pairs;
            let err = validate(headers(&pairs), Format::Headers).unwrap_err();
            let text = err.redacted(&redactor).to_string();
            assert!(!text.to_ascii_lowercase().contains("secret-name"), "{text}");
        }
        let upper = secret.to_ascii_uppercase() + " x";
        let err = validate(headers(&[(&upper, "v")]), Format::Headers).unwrap_err();
        let text = err.redacted(&redactor).to_string();
        assert!(
            text.contains("[redacted]") && !text.contains("SECRET-NAME"),
            "{text}"
        );
    }

    #[test]
    fn messages_never_echo_values() {
        let secret = "s3cr3t\r\nvalue";
        match validate(headers(&[("X", secret)]), Format::Headers) {
            Err(e) => assert!(!e.to_string().contains("s3cr3t")),
            Ok(_) => panic!("accepted"),
        }
    }

    #[test]
    fn rendered_output_is_checked_again() {
        let good = "{\"Authorization\":\"Bearer abc\",\"X-A\":\"1\"}\n";
        assert!(check_rendered(good, Format::Headers).is_ok());
        assert!(check_rendered("abc\n", Format::ApiKey).is_ok());
        for bad in [
            "not json\r\nX-Injected: 1\n",
            "{\"Authorization\":\"Bearer abc\"}",
            "{\"A\":\"1\",\"a\":\"2\"}\n",
            "{\"A\":\"x\\r\\nB: 1\"}\n",
            "{\"A\":1}\n",
            "{}\n",
            "{ \"A\":\"1\"}\n",
            "[\"A\"]\n",
            "\n",
        ] {
            assert!(check_rendered(bad, Format::Headers).is_err(), "{bad:?}");
        }
        for bad in ["\n", "a b\n", "abc", "abc\n\n"] {
            assert!(check_rendered(bad, Format::ApiKey).is_err(), "{bad:?}");
        }
    }
}
