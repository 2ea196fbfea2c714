//! One request and its response over `wasi:http/outgoing-handler`, waiting
//! on `wasi:io/poll` pollables: no async runtime.
//!
//! credbox checks every request against the manifest's allowlist, connects,
//! and enforces its own timeouts and body cap; a refusal or failure comes
//! back as a `wasi:http` [`ErrorCode`], mapped here to an [`Error`] kind.

use std::time::Duration;

use ::http::{HeaderMap, HeaderName, HeaderValue, Method};
use wasip2::clocks::monotonic_clock;
use wasip2::http::outgoing_handler;
use wasip2::http::types::{self as wasi, ErrorCode, Fields, OutgoingBody, OutgoingRequest};
use wasip2::io::poll::{Pollable, poll};
use wasip2::io::streams::StreamError;

use super::Response;
use super::redirect::Outgoing;
use super::url::Origin;
use crate::Error;

/// Bytes asked for per read of the response body.
const READ_CHUNK: u64 = 64 * 1024;

/// When a whole `send` (every hop, every body) must be done.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline {
    /// On the monotonic clock, in nanoseconds.
    at: u64,
    /// The timeout it was set from, for messages.
    timeout: Duration,
}

impl Deadline {
    /// `timeout` from now.
    pub fn after(timeout: Duration) -> Deadline {
        let nanos = u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX);
        Deadline {
            at: monotonic_clock::now().saturating_add(nanos),
            timeout,
        }
    }

    fn timer(self) -> Timer {
        Timer {
            fires: monotonic_clock::subscribe_instant(self.at),
            timeout: self.timeout,
        }
    }
}

/// A pollable that becomes ready at a [`Deadline`].
struct Timer {
    fires: Pollable,
    timeout: Duration,
}

/// Sends `request` with `headers` (the hop's, see
/// [`Outgoing::hop_headers`]) and reads the whole response, all by
/// `deadline` if there is one.
pub(crate) fn exchange<'a>(
    request: &Outgoing,
    headers: impl Iterator<Item = &'a (HeaderName, HeaderValue)>,
    deadline: Option<Deadline>,
) -> Result<Response, Error> {
    let origin = &request.target.origin;
    let timer = deadline.map(Deadline::timer);

    let mut fields: Vec<(String, Vec<u8>)> = headers
        .map(|(name, value)| (name.as_str().to_owned(), value.as_bytes().to_vec()))
        .collect();
    if let Some(body) = &request.body {
        fields.push(("content-length".into(), body.len().to_string().into_bytes()));
    }
    let fields = Fields::from_list(&fields).map_err(|e| {
        Error::other(format!(
            "{origin}: wasi:http refused a request header ({e:?})"
        ))
    })?;
    let outgoing = OutgoingRequest::new(fields);
    let scheme = match origin.https {
        true => wasi::Scheme::Https,
        false => wasi::Scheme::Http,
    };
    let method = match request.method {
        Method::GET => wasi::Method::Get,
        Method::POST => wasi::Method::Post,
        ref other => wasi::Method::Other(other.as_str().to_owned()),
    };
    outgoing
        .set_method(&method)
        .and(outgoing.set_scheme(Some(&scheme)))
        .and(outgoing.set_authority(Some(request.target.authority())))
        .and(outgoing.set_path_with_query(Some(request.target.path_and_query())))
        .map_err(|()| Error::other(format!("{origin}: wasi:http refused the request's URL")))?;
    // The body resource must be taken before the request is handed over;
    // it is written after, while credbox sends.
    let body = match &request.body {
        Some(bytes) => Some((outgoing.body().map_err(|()| body_taken(origin))?, bytes)),
        None => None,
    };

    let future =
        outgoing_handler::handle(outgoing, None).map_err(|code| map_error_code(origin, &code))?;
    if let Some((body, bytes)) = body {
        // A failed write means the request failed (refused, connection
        // lost): the response below says how.
        write_body(body, bytes, timer.as_ref(), origin);
    }
    {
        let ready = future.subscribe();
        wait(&ready, timer.as_ref(), origin)?;
    }
    let response = match future.get() {
        Some(Ok(Ok(response))) => response,
        Some(Ok(Err(code))) => return Err(map_error_code(origin, &code)),
        Some(Err(())) | None => {
            return Err(Error::other(format!(
                "{origin}: wasi:http lost the response"
            )));
        }
    };

    let status = ::http::StatusCode::from_u16(response.status())
        .map_err(|_| Error::other(format!("{origin}: invalid status {}", response.status())))?;
    let mut header_map = HeaderMap::new();
    {
        let fields = response.headers();
        for (name, value) in fields.entries() {
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_bytes(&value),
            ) {
                header_map.append(name, value);
            }
        }
    }
    let incoming = response.consume().map_err(|()| body_taken(origin))?;
    let stream = incoming.stream().map_err(|()| body_taken(origin))?;
    let readable = stream.subscribe();
    let mut bytes = Vec::new();
    loop {
        match stream.read(READ_CHUNK) {
            Ok(chunk) if chunk.is_empty() => wait(&readable, timer.as_ref(), origin)?,
            Ok(chunk) => bytes.extend_from_slice(&chunk),
            Err(StreamError::Closed) => break,
            Err(StreamError::LastOperationFailed(e)) => {
                return Err(match wasi::http_error_code(&e) {
                    Some(code) => map_error_code(origin, &code),
                    None => map_body_error(origin, &e.to_debug_string()),
                });
            }
        }
    }
    Ok(Response {
        status,
        headers: header_map,
        body: bytes,
        url: request.target.uri.clone(),
    })
}

/// Writes `bytes` to an outgoing body and finishes it, giving up at the
/// first error or when `timer` fires.
fn write_body(body: OutgoingBody, bytes: &[u8], timer: Option<&Timer>, origin: &Origin) {
    if let Ok(stream) = body.write() {
        let writable = stream.subscribe();
        let mut rest = bytes;
        while !rest.is_empty() {
            match stream.check_write() {
                Ok(0) if wait(&writable, timer, origin).is_ok() => {}
                Ok(n) if n > 0 => {
                    let (now, later) = rest.split_at(rest.len().min(n as usize));
                    if stream.write(now).is_err() {
                        break;
                    }
                    rest = later;
                }
                _ => break,
            }
        }
        if rest.is_empty() && stream.flush().is_ok() {
            let _ = wait(&writable, timer, origin);
        }
    }
    let _ = OutgoingBody::finish(body, None);
}

/// Blocks until `ready` is; fails as `unavailable` if `timer` fires first.
fn wait(ready: &Pollable, timer: Option<&Timer>, origin: &Origin) -> Result<(), Error> {
    match timer {
        None => {
            ready.block();
            Ok(())
        }
        Some(timer) if poll(&[ready, &timer.fires]).contains(&0) => Ok(()),
        Some(timer) => Err(Error::unavailable(format!(
            "{origin}: no complete answer within {}",
            format_duration(timer.timeout)
        ))),
    }
}

fn body_taken(origin: &Origin) -> Error {
    Error::other(format!("{origin}: wasi:http body already taken"))
}

/// The SDK error for a `wasi:http` failure of a request to `origin`.
///
/// - refused by credbox's network policy: `denied` (credbox reports the
///   refusal itself, as `request to <origin> denied (<reason>)`, exit 9);
/// - name resolution, connection and timeout failures, TLS failures:
///   `unavailable` (transient: network down, VPN off, server gone);
/// - a body over credbox's 1 MiB cap, anything else: `other`.
pub(crate) fn map_error_code(origin: &Origin, code: &ErrorCode) -> Error {
    let unavailable = |what: &str| Error::unavailable(format!("{origin}: {what}"));
    match code {
        ErrorCode::HttpRequestDenied | ErrorCode::DestinationIpProhibited => Error::denied(
            format!("request to {origin} refused by credbox's network policy"),
        ),
        ErrorCode::DnsTimeout => unavailable("DNS lookup timed out"),
        ErrorCode::DnsError(payload) => match &payload.rcode {
            Some(rcode) => unavailable(&format!("DNS lookup failed ({rcode})")),
            None => unavailable("DNS lookup failed"),
        },
        ErrorCode::DestinationNotFound => unavailable("host not found"),
        ErrorCode::DestinationUnavailable | ErrorCode::DestinationIpUnroutable => {
            unavailable("host unreachable")
        }
        ErrorCode::ConnectionRefused => unavailable("connection refused"),
        ErrorCode::ConnectionTerminated | ErrorCode::HttpResponseIncomplete => {
            unavailable("connection closed before the response was complete")
        }
        ErrorCode::ConnectionTimeout => unavailable("timed out connecting"),
        ErrorCode::ConnectionReadTimeout | ErrorCode::HttpResponseTimeout => {
            unavailable("timed out waiting for the response")
        }
        ErrorCode::ConnectionWriteTimeout => unavailable("timed out sending the request"),
        ErrorCode::ConnectionLimitReached => unavailable("connection limit reached"),
        ErrorCode::TlsCertificateError => unavailable(
            "TLS certificate not trusted (a TLS-intercepting network? see [network] ca_bundle)",
        ),
        ErrorCode::TlsProtocolError | ErrorCode::TlsAlertReceived(_) => {
            unavailable("TLS handshake failed")
        }
        ErrorCode::HttpResponseBodySize(_) => Error::other(format!(
            "{origin}: response body larger than credbox's 1 MiB cap"
        )),
        other => Error::other(format!("{origin}: {other:?}")),
    }
}

/// The SDK error for a response body that failed with an I/O error that
/// carries no [`ErrorCode`], described by credbox as `description`.
///
/// wasmtime 48 reports body failures that way (`http-error-code` finds no
/// code in them), so the description is all there is: credbox's body cap
/// and timeouts are recognised by it; anything else cut the response off
/// mid-way, which is as transient as a lost connection.
fn map_body_error(origin: &Origin, description: &str) -> Error {
    let lower = description.to_ascii_lowercase();
    if lower.contains("body size exceeds limit") {
        map_error_code(origin, &ErrorCode::HttpResponseBodySize(None))
    } else if lower.contains("timeout") || lower.contains("timed out") {
        Error::unavailable(format!("{origin}: timed out reading the response"))
    } else {
        Error::unavailable(format!("{origin}: response cut off ({description})"))
    }
}

/// `800ms`, `2s`, `1500ms`: whole seconds when exact.
pub(crate) fn format_duration(d: Duration) -> String {
    match d.subsec_nanos() {
        0 => format!("{}s", d.as_secs()),
        _ => format!("{}ms", d.as_millis()),
    }
}

#[cfg(test)]
mod tests {
    use wasip2::http::types::{DnsErrorPayload, TlsAlertReceivedPayload};

    use super::*;
    use crate::ErrorKind;

    #[test]
    fn each_failure_maps_to_its_error_kind() {
        let origin = super::super::url::Target::parse("http://127.0.0.1:8080/x")
            .unwrap()
            .origin;
        let dns = |rcode: Option<&str>| {
            ErrorCode::DnsError(DnsErrorPayload {
                rcode: rcode.map(Into::into),
                info_code: None,
            })
        };
        for (code, kind, message) in [
            (
                ErrorCode::HttpRequestDenied,
                ErrorKind::Denied,
                "request to http://127.0.0.1:8080 refused by credbox's network policy",
            ),
            (
                ErrorCode::ConnectionRefused,
                ErrorKind::Unavailable,
                "http://127.0.0.1:8080: connection refused",
            ),
            (
                dns(Some("NXDOMAIN")),
                ErrorKind::Unavailable,
                "http://127.0.0.1:8080: DNS lookup failed (NXDOMAIN)",
            ),
            (
                dns(None),
                ErrorKind::Unavailable,
                "http://127.0.0.1:8080: DNS lookup failed",
            ),
            (
                ErrorCode::DnsTimeout,
                ErrorKind::Unavailable,
                "http://127.0.0.1:8080: DNS lookup timed out",
            ),
            (
                ErrorCode::ConnectionTimeout,
                ErrorKind::Unavailable,
                "http://127.0.0.1:8080: timed out connecting",
            ),
            (
                ErrorCode::ConnectionReadTimeout,
                ErrorKind::Unavailable,
                "http://127.0.0.1:8080: timed out waiting for the response",
            ),
            (
                ErrorCode::TlsAlertReceived(TlsAlertReceivedPayload {
                    alert_id: Some(40),
                    alert_message: None,
                }),
                ErrorKind::Unavailable,
                "http://127.0.0.1:8080: TLS handshake failed",
            ),
            (
                ErrorCode::HttpResponseBodySize(Some(1 << 20)),
                ErrorKind::Other,
                "http://127.0.0.1:8080: response body larger than credbox's 1 MiB cap",
            ),
            (
                ErrorCode::HttpProtocolError,
                ErrorKind::Other,
                "http://127.0.0.1:8080: ErrorCode::HttpProtocolError",
            ),
        ] {
            let error = map_error_code(&origin, &code);
            assert_eq!((error.kind(), error.message()), (kind, message), "{code:?}");
        }
        for code in [
            ErrorCode::DestinationNotFound,
            ErrorCode::DestinationUnavailable,
            ErrorCode::DestinationIpUnroutable,
            ErrorCode::ConnectionTerminated,
            ErrorCode::ConnectionWriteTimeout,
            ErrorCode::ConnectionLimitReached,
            ErrorCode::HttpResponseIncomplete,
            ErrorCode::HttpResponseTimeout,
            ErrorCode::TlsCertificateError,
            ErrorCode::TlsProtocolError,
        ] {
            assert_eq!(
                map_error_code(&origin, &code).kind(),
                ErrorKind::Unavailable,
                "{code:?}"
            );
        }
        assert_eq!(
            map_error_code(&origin, &ErrorCode::DestinationIpProhibited).kind(),
            ErrorKind::Denied
        );
    }

    #[test]
    fn body_failures_without_a_code_are_recognised_by_their_description() {
        let origin = super::super::url::Target::parse("https://auth.example.com/x")
            .unwrap()
            .origin;
        for (description, kind, message) in [
            (
                "HTTP response body size exceeds limit: 1048577 bytes",
                ErrorKind::Other,
                "https://auth.example.com: response body larger than credbox's 1 MiB cap",
            ),
            (
                "connection read timeout",
                ErrorKind::Unavailable,
                "https://auth.example.com: timed out reading the response",
            ),
            (
                "hyper error: connection reset",
                ErrorKind::Unavailable,
                "https://auth.example.com: response cut off (hyper error: connection reset)",
            ),
        ] {
            let error = map_body_error(&origin, description);
            assert_eq!(
                (error.kind(), error.message()),
                (kind, message),
                "{description}"
            );
        }
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(format_duration(Duration::from_secs(2)), "2s");
        assert_eq!(format_duration(Duration::from_millis(800)), "800ms");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1500ms");
    }
}
