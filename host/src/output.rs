//! Output: the exact bytes `credbox run` prints on stdout.
//!
//! Only a validated [`Credential`] can be rendered, and the text is built in
//! full before the binary writes it in one go: stdout is either the whole
//! credential or nothing. The other clients (git, Docker, AWS, Kubernetes,
//! Cargo) render the same credential in their own protocol (see
//! [`crate::protocol`]).

use base64ct::Encoding;

use crate::error::Error;
use crate::manifest::Format;
use crate::validation::{Credential, MAX_KEY_LEN};

/// The text to print for `credential` in `format`, newline included.
///
/// Headers become a compact JSON object in the helper's order (names and
/// values are JSON-escaped by `serde_json`, never spliced in by hand); a
/// credential with a token and no headers becomes `Authorization: Bearer
/// <token>`. An API key is the token alone. A credential without the part
/// the format needs (one cached for another client) is an invalid output.
///
/// A `Proxy-Authorization` value is, in this order, the helper's own
/// `Proxy-Authorization` header, its token as `Bearer <token>`, or its
/// username and secret as `Basic base64(username:secret)` (RFC 7617, in
/// UTF-8).
pub fn render(credential: &Credential, format: Format) -> Result<String, Error> {
    match format {
        Format::Headers => {
            let bearer;
            let headers = match (&credential.headers[..], &credential.token) {
                ([], Some(token)) => {
                    bearer = [("Authorization".to_owned(), format!("Bearer {token}"))];
                    &bearer[..]
                }
                ([], None) => return Err(missing("headers or a token", "headers")),
                (headers, _) => headers,
            };
            let mut out = String::from("{");
            for (i, (name, value)) in headers.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&json_string(name));
                out.push(':');
                out.push_str(&json_string(value));
            }
            out.push_str("}\n");
            Ok(out)
        }
        Format::ApiKey => match &credential.token {
            Some(token) if token.len() <= MAX_KEY_LEN => Ok(format!("{token}\n")),
            _ => Err(missing("a token", "api-key")),
        },
        Format::ProxyAuthorization => {
            if let Some(value) = credential.proxy_authorization() {
                return Ok(format!("{value}\n"));
            }
            if let Some(token) = &credential.token {
                return Ok(format!("Bearer {token}\n"));
            }
            match &credential.user_secret {
                Some(user) => {
                    let pair = format!("{}:{}", user.username, user.secret);
                    let pair = zeroize::Zeroizing::new(pair);
                    Ok(format!(
                        "Basic {}\n",
                        base64ct::Base64::encode_string(pair.as_bytes())
                    ))
                }
                None => Err(missing(
                    "Proxy-Authorization header, token or user-secret",
                    "proxy-authorization",
                )),
            }
        }
    }
}

fn missing(part: &str, format: &str) -> Error {
    Error::InvalidOutput(format!(
        "the credential has no {part} for --format {format}"
    ))
}

fn json_string(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> Credential {
        Credential {
            headers: pairs
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn headers_are_a_json_object_of_strings_in_order() {
        let text = render(
            &headers(&[("Z", "1"), ("A", r#"{"x":1}\"#)]),
            Format::Headers,
        )
        .unwrap();
        assert_eq!(text, "{\"Z\":\"1\",\"A\":\"{\\\"x\\\":1}\\\\\"}\n");
        let parsed: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&text).unwrap();
        assert_eq!(parsed["A"], r#"{"x":1}\"#);
        assert!(parsed.values().all(|v| v.is_string()));
    }

    #[test]
    fn a_token_alone_becomes_a_bearer_header_and_is_the_api_key() {
        let token = Credential {
            token: Some("abc".into()),
            ..Default::default()
        };
        assert_eq!(
            render(&token, Format::Headers).unwrap(),
            "{\"Authorization\":\"Bearer abc\"}\n"
        );
        assert_eq!(render(&token, Format::ApiKey).unwrap(), "abc\n");
        // Headers win over the token for headers; the token is the key.
        let both = Credential {
            token: Some("abc".into()),
            ..headers(&[("X-Api-Key", "k")])
        };
        assert_eq!(
            render(&both, Format::Headers).unwrap(),
            "{\"X-Api-Key\":\"k\"}\n"
        );
        assert_eq!(render(&both, Format::ApiKey).unwrap(), "abc\n");
    }

    #[test]
    fn a_missing_part_is_an_error_not_an_empty_line() {
        let aws_only = Credential {
            aws: Some(crate::validation::AwsCredentials {
                access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
                secret_access_key: "s".into(),
                session_token: None,
            }),
            ..Default::default()
        };
        for format in [Format::Headers, Format::ApiKey] {
            assert!(matches!(
                render(&aws_only, format),
                Err(Error::InvalidOutput(_))
            ));
        }
        assert!(render(&headers(&[("A", "1")]), Format::ApiKey).is_err());
    }

    #[test]
    fn a_proxy_authorization_is_the_header_else_bearer_else_basic() {
        let proxy = |c: &Credential| render(c, Format::ProxyAuthorization);
        let mut c = headers(&[("X-Other", "1"), ("proxy-authorization", "Negotiate abc")]);
        c.token = Some("tok".into());
        assert_eq!(proxy(&c).unwrap(), "Negotiate abc\n");
        c.headers.clear();
        assert_eq!(proxy(&c).unwrap(), "Bearer tok\n");
        c.token = None;
        c.user_secret = Some(crate::validation::UserSecret {
            username: "Aladdin".into(),
            secret: "open sesame".into(),
        });
        // RFC 7617's own example.
        assert_eq!(proxy(&c).unwrap(), "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\n");
        c.user_secret = Some(crate::validation::UserSecret {
            username: "test".into(),
            secret: "123\u{a3}".into(),
        });
        // RFC 7617 section 3: UTF-8.
        assert_eq!(proxy(&c).unwrap(), "Basic dGVzdDoxMjPCow==\n");
        c.user_secret = None;
        c.headers = vec![("X-Other".into(), "1".into())];
        let err = proxy(&c).unwrap_err().to_string();
        assert!(err.contains("--format proxy-authorization"), "{err}");
    }
}
