//! Redirects: which response is one, what the next request is, and which
//! headers each hop may carry.

use ::http::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE, PROXY_AUTHORIZATION};
use ::http::{HeaderName, HeaderValue, Method, StatusCode};

use super::url::{Origin, Target};
use crate::Error;

/// A request as sent on one hop.
#[derive(Debug, Clone)]
pub(crate) struct Outgoing {
    pub method: Method,
    pub target: Target,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Option<Vec<u8>>,
}

/// Headers that carry credentials: sent only to the first request's origin.
const CREDENTIAL_HEADERS: [HeaderName; 3] = [AUTHORIZATION, PROXY_AUTHORIZATION, COOKIE];

impl Outgoing {
    /// The headers of this hop: all of them on `first`, the origin of the
    /// request the caller made; none that carry credentials anywhere else.
    pub fn hop_headers<'a>(
        &'a self,
        first: &'a Origin,
    ) -> impl Iterator<Item = &'a (HeaderName, HeaderValue)> + 'a {
        let same_origin = self.target.origin == *first;
        self.headers
            .iter()
            .filter(move |(name, _)| same_origin || !CREDENTIAL_HEADERS.contains(name))
    }

    /// The request that follows a response with `status` and `location`:
    /// `None` when the response is final (not a redirect, or a redirect
    /// without `Location`).
    ///
    /// 301, 302 and 303 turn into a `GET` without body; 307 and 308 repeat
    /// the method and body, but never send a body to an origin other than
    /// `first` (it may hold a secret, as a form with a client secret does).
    pub fn redirected(
        &self,
        status: StatusCode,
        location: Option<&HeaderValue>,
        first: &Origin,
    ) -> Result<Option<Outgoing>, Error> {
        let keep_body = match status.as_u16() {
            301..=303 => false,
            307 | 308 => true,
            _ => return Ok(None),
        };
        let Some(location) = location else {
            return Ok(None);
        };
        let from = &self.target.origin;
        let target = location
            .to_str()
            .map_err(|_| "not ASCII".to_owned())
            .and_then(|l| self.target.join(l))
            .map_err(|why| {
                Error::other(format!("{from} redirected to an unusable Location ({why})"))
            })?;
        if keep_body && self.body.is_some() && target.origin != *first {
            return Err(Error::other(format!(
                "{from} redirected a {} with a body to {}: not followed, as the body may hold a secret",
                self.method, target.origin
            )));
        }
        Ok(Some(match keep_body {
            true => Outgoing {
                target,
                ..self.clone()
            },
            false => Outgoing {
                method: Method::GET,
                target,
                headers: self
                    .headers
                    .iter()
                    .filter(|(name, _)| *name != CONTENT_TYPE)
                    .cloned()
                    .collect(),
                body: None,
            },
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn post(url: &str) -> Outgoing {
        Outgoing {
            method: Method::POST,
            target: Target::parse(url).unwrap(),
            headers: vec![
                (AUTHORIZATION, HeaderValue::from_static("Bearer t")),
                (
                    CONTENT_TYPE,
                    HeaderValue::from_static("application/x-www-form-urlencoded"),
                ),
                (
                    HeaderName::from_static("x-tenant"),
                    HeaderValue::from_static("acme"),
                ),
            ],
            body: Some(b"client_secret=s".to_vec()),
        }
    }

    fn names<'a>(headers: impl Iterator<Item = &'a (HeaderName, HeaderValue)>) -> Vec<&'a str> {
        headers.map(|(n, _)| n.as_str()).collect()
    }

    fn redirect(
        request: &Outgoing,
        status: u16,
        location: &str,
    ) -> Result<Option<Outgoing>, Error> {
        let first = request.target.origin.clone();
        request.redirected(
            StatusCode::from_u16(status).unwrap(),
            Some(&HeaderValue::from_str(location).unwrap()),
            &first,
        )
    }

    #[test]
    fn credentials_stay_on_the_first_origin() {
        let first = Target::parse("https://auth.example.com/token")
            .unwrap()
            .origin;
        let mut hop = post("https://auth.example.com/other");
        assert_eq!(
            names(hop.hop_headers(&first)),
            ["authorization", "content-type", "x-tenant"]
        );
        for elsewhere in [
            "https://cdn.example.com/token",
            "http://auth.example.com/token",
            "https://auth.example.com:8443/token",
        ] {
            hop.target = Target::parse(elsewhere).unwrap();
            assert_eq!(
                names(hop.hop_headers(&first)),
                ["content-type", "x-tenant"],
                "{elsewhere}"
            );
        }
        hop.headers.push((COOKIE, HeaderValue::from_static("s=1")));
        hop.headers
            .push((PROXY_AUTHORIZATION, HeaderValue::from_static("Basic x")));
        assert_eq!(names(hop.hop_headers(&first)), ["content-type", "x-tenant"]);
    }

    #[test]
    fn see_other_and_friends_become_a_get_without_body() {
        for status in [301, 302, 303] {
            let next = redirect(&post("https://a.example/token"), status, "/next?x=1")
                .unwrap()
                .unwrap();
            assert_eq!(next.method, Method::GET);
            assert_eq!(next.body, None);
            assert_eq!(next.target.uri, "https://a.example/next?x=1");
            assert_eq!(names(next.headers.iter()), ["authorization", "x-tenant"]);
        }
    }

    #[test]
    fn temporary_and_permanent_redirects_repeat_the_request_on_the_same_origin() {
        for status in [307, 308] {
            let request = post("https://a.example/token");
            let next = redirect(&request, status, "https://A.example:443/v2/token")
                .unwrap()
                .unwrap();
            assert_eq!(next.method, Method::POST);
            assert_eq!(next.body, request.body);
            assert_eq!(next.headers.len(), 3);
        }
    }

    #[test]
    fn a_body_is_never_redirected_to_another_origin() {
        let err = redirect(
            &post("https://a.example/token"),
            307,
            "https://b.example/token",
        )
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Other);
        assert_eq!(
            err.message(),
            "https://a.example redirected a POST with a body to https://b.example: not followed, \
             as the body may hold a secret"
        );
        // Without a body, or as a GET, the redirect is followed.
        let mut get = post("https://a.example/token");
        get.method = Method::GET;
        get.body = None;
        let next = redirect(&get, 307, "https://b.example/x").unwrap().unwrap();
        assert_eq!(next.target.origin.to_string(), "https://b.example");
        let next = redirect(&post("https://a.example/token"), 303, "https://b.example/x")
            .unwrap()
            .unwrap();
        assert_eq!((next.method, next.body), (Method::GET, None));
    }

    #[test]
    fn other_statuses_and_missing_locations_are_final() {
        let request = post("https://a.example/token");
        for status in [200, 204, 300, 304, 305, 401, 500] {
            assert!(
                redirect(&request, status, "/x").unwrap().is_none(),
                "{status}"
            );
        }
        let first = request.target.origin.clone();
        assert!(
            request
                .redirected(StatusCode::FOUND, None, &first)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn unusable_locations_are_errors() {
        let request = post("https://a.example/token?secret=1");
        let err = redirect(&request, 302, "ftp://files.example/x").unwrap_err();
        assert_eq!(
            err.message(),
            "https://a.example redirected to an unusable Location \
             (not an http:// or https:// URL: ftp://files.example/x)"
        );
        let first = request.target.origin.clone();
        let binary = HeaderValue::from_bytes(b"/caf\xc3\xa9").unwrap();
        let err = request
            .redirected(StatusCode::FOUND, Some(&binary), &first)
            .unwrap_err();
        assert!(err.message().ends_with("(not ASCII)"), "{err}");
    }
}
