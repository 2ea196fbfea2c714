//! The network capability at run time: credbox sends the helper's
//! `wasi:http` requests itself.
//!
//! wasmtime-wasi-http turns the guest's `outgoing-handler.handle` into a
//! call to [`WasiHttpHooks::send_request`], which [`HttpHooks`] answers:
//!
//! 1. The origin must pass [`NetworkPolicy::allows`]; otherwise the guest
//!    gets `HttpRequestDenied` and the refusal is kept for the report
//!    ([`HttpHooks::denial`]).
//! 2. The name is resolved here and the addresses vetted ([`vet`]): a name
//!    whose addresses are all private, and not named by the allowlist, is
//!    refused the same way (DNS rebinding guard).
//! 3. TCP connects to a vetted address. For `https`, TLS checks the
//!    certificate for the host name (also sent as SNI) against the system's
//!    roots plus `[network] ca_bundle`, and presents the client
//!    certificate of `[[network.client_cert]]` to its one origin, to no
//!    other.
//! 4. One HTTP/1.1 request per connection. A redirect is an answer like any
//!    other: the guest decides whether to follow it, through this same path.
//!
//! Each phase has a deadline: the guest's `request-options` timeouts
//! (connect, first byte, between bytes), each capped by the network
//! deadline of the run. Response bodies are capped at
//! [`MAX_RESPONSE_BODY`] each and [`MAX_RESPONSE_BYTES`] in all, request
//! bodies at [`MAX_REQUEST_BODY`]; at most [`MAX_CONNECTIONS`] requests are
//! open at once, and a body the guest writes holds at most two
//! [`OUTGOING_CHUNK`]s until it is sent. What the host holds for the guest's
//! requests is so bounded whatever the guest does.

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::{Sleep, timeout_at};
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

use crate::policy::network::NetworkPolicy;
use crate::policy::network::allow::Scheme;
use crate::policy::network::ranges::is_private;
use crate::policy::network::tls;

/// Largest response body a helper may receive, in bytes: a token response
/// is a few KiB.
pub const MAX_RESPONSE_BODY: u64 = 1 << 20;

/// Most response bytes one run may receive, over all its requests: bodies
/// the guest has not read yet are held by the host.
pub const MAX_RESPONSE_BYTES: u64 = 8 << 20;

/// Largest request body a helper may send, in bytes: a token request is a
/// few KiB.
pub const MAX_REQUEST_BODY: u64 = 1 << 20;

/// Largest write to an outgoing body that the host copies and buffers
/// (wasmtime's default is 1 MiB, held by every unsent body).
pub const OUTGOING_CHUNK: usize = 16 << 10;

/// Most requests of one run open at once (connected and not finished).
pub const MAX_CONNECTIONS: usize = 8;

/// A request credbox refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    /// The origin, `scheme://host[:port]` (never a path, query or user
    /// info, which may carry secrets).
    pub url: String,
    /// Why, for the user: `not in [network] allow`, or the private address
    /// the name resolved to.
    pub reason: String,
}

/// A response cap a helper's request hit: the first one, recorded as a
/// denial is, so that what credbox reports names the cap that was hit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapHit {
    /// The origin whose response went over, `scheme://host[:port]`.
    pub url: String,
    /// Whether it was the run's cap over all responses
    /// ([`MAX_RESPONSE_BYTES`]), not one response's
    /// ([`MAX_RESPONSE_BODY`]).
    pub whole_run: bool,
}

impl CapHit {
    /// What went over which cap, for the user.
    pub fn describe(&self) -> String {
        match self.whole_run {
            false => format!(
                "{}: response body larger than credbox's {} cap",
                self.url,
                crate::units::format_size(MAX_RESPONSE_BODY)
            ),
            true => format!(
                "{}: the run's responses together larger than credbox's {} cap for one run",
                self.url,
                crate::units::format_size(MAX_RESPONSE_BYTES)
            ),
        }
    }
}

/// The `wasi:http` hooks of one run: the policy, the deadline, and the
/// first refusal.
pub struct HttpHooks {
    shared: Arc<Shared>,
}

/// What the hooks share with the requests they started.
struct Shared {
    policy: NetworkPolicy,
    deadline: Instant,
    /// The trusted roots, loaded on the first `https` request.
    roots: OnceLock<Arc<RootCertStore>>,
    /// The TLS configuration without a client certificate.
    tls: OnceLock<Arc<ClientConfig>>,
    /// One per client certificate of the policy, in its order.
    mtls: Vec<OnceLock<Arc<ClientConfig>>>,
    denial: Mutex<Option<Denial>>,
    /// The first response cap hit, if any.
    cap_hit: Mutex<Option<CapHit>>,
    /// Requests open now.
    connections: AtomicUsize,
    /// Response bytes received so far, over all requests.
    received: AtomicU64,
}

/// One open request, counted in [`Shared::connections`] until dropped.
struct Slot(Arc<Shared>);

impl Slot {
    fn take(shared: &Arc<Shared>) -> Result<Slot, Error> {
        let open = shared.connections.fetch_add(1, Ordering::SeqCst);
        let slot = Slot(shared.clone());
        if open >= MAX_CONNECTIONS {
            return Err(Error::ConnectionLimitReached);
        }
        Ok(slot)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, Ordering::SeqCst);
    }
}

/// What [`WasiHttpHooks::send_request`] resolves to: the response and the
/// task driving its connection.
type Sent = Result<
    (
        http::Response<WasiBody>,
        Box<dyn Future<Output = Result<(), Error>> + Send>,
    ),
    Error,
>;

impl HttpHooks {
    /// Hooks that send what `policy` allows, every phase of every request
    /// done by `deadline`.
    pub fn new(policy: NetworkPolicy, deadline: Instant) -> HttpHooks {
        let mtls = policy
            .client_certs()
            .iter()
            .map(|_| OnceLock::new())
            .collect();
        HttpHooks {
            shared: Arc::new(Shared {
                policy,
                deadline,
                roots: OnceLock::new(),
                tls: OnceLock::new(),
                mtls,
                denial: Mutex::new(None),
                cap_hit: Mutex::new(None),
                connections: AtomicUsize::new(0),
                received: AtomicU64::new(0),
            }),
        }
    }

    /// The first response cap hit so far, if any.
    pub fn cap_hit(&self) -> Option<CapHit> {
        self.shared
            .cap_hit
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The first request refused so far, if any.
    pub fn denial(&self) -> Option<Denial> {
        self.shared
            .denial
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl WasiHttpHooks for HttpHooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _request_errors: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> Box<dyn Future<Output = Sent> + Send> {
        Box::new(self.shared.clone().send(request, options))
    }

    fn p2_outgoing_body_buffer_chunks(&mut self) -> usize {
        1
    }

    fn p2_outgoing_body_chunk_size(&mut self) -> usize {
        OUTGOING_CHUNK
    }
}

impl Shared {
    async fn send(
        self: Arc<Self>,
        mut request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
    ) -> Sent {
        let uri = request.uri();
        let scheme = uri
            .scheme_str()
            .and_then(Scheme::parse)
            .ok_or(Error::HttpProtocolError)?;
        let Some(authority) = uri.authority().filter(|a| !a.host().is_empty()) else {
            let origin = format!("{}://", scheme.as_str());
            return Err(self.deny(origin, "the URL names no host".into()));
        };
        let host = authority.host().to_ascii_lowercase();
        let port = authority.port_u16().unwrap_or(scheme.default_port());
        let origin = match port == scheme.default_port() {
            true => format!("{}://{host}", scheme.as_str()),
            false => format!("{}://{host}:{port}", scheme.as_str()),
        };
        if !self.policy.allows(scheme.as_str(), &host, port) {
            return Err(self.deny(origin, "not in [network] allow".into()));
        }
        let bare = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(&host);
        let options = options.unwrap_or_default();
        let connect_by = cap(self.deadline, options.connect_timeout);
        let slot = Slot::take(&self)?;

        let addrs = match bare.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            Err(_) => timeout_at(connect_by, tokio::net::lookup_host((bare, port)))
                .await
                .map_err(|_| Error::DnsTimeout)?
                .map_err(|e| Error::DnsError {
                    rcode: Some(e.to_string()),
                    info_code: None,
                })?
                .collect(),
        };
        let addrs = vet(&self.policy, bare, addrs).map_err(|ip| {
            let reason = format!(
                "{bare} resolves to the private address {ip}, which [network] allow does not name; \
                 list it, or its range in [network] private_ranges"
            );
            self.deny(origin.clone(), reason)
        })?;
        let tcp = timeout_at(connect_by, connect(&addrs))
            .await
            .map_err(|_| Error::ConnectionTimeout)??;
        let stream: Box<dyn Stream> = match scheme {
            Scheme::Http => Box::new(tcp),
            Scheme::Https => {
                let name = ServerName::try_from(bare.trim_end_matches('.').to_owned())
                    .map_err(|_| Error::HttpRequestUriInvalid)?;
                let connector = tokio_rustls::TlsConnector::from(self.tls_config(bare, port)?);
                let tls = timeout_at(connect_by, connector.connect(name, tcp))
                    .await
                    .map_err(|_| Error::ConnectionTimeout)?
                    .map_err(tls_error)?;
                Box::new(tls)
            }
        };
        let (mut sender, connection) = timeout_at(
            connect_by,
            hyper::client::conn::http1::Builder::new()
                // hyper's read buffer, per connection (default ~400 KiB).
                .max_buf_size(64 << 10)
                .handshake(TokioIo::new(stream)),
        )
        .await
        .map_err(|_| Error::ConnectionTimeout)??;
        // Aborted when the guest drops the response (or this future).
        let connection = wasmtime_wasi::runtime::spawn(connection);

        // On the wire the request line carries only the path and query.
        let path = request.uri().path_and_query().map_or("/", |p| p.as_str());
        let uri = http::Uri::builder()
            .path_and_query(path)
            .build()
            .map_err(|_| Error::HttpRequestUriInvalid)?;
        *request.uri_mut() = uri;
        let request = request.map(|body| {
            RequestBody {
                inner: body,
                sent: 0,
            }
            .boxed_unsync()
        });

        let response = timeout_at(
            cap(self.deadline, options.first_byte_timeout),
            sender.send_request(request),
        )
        .await
        .map_err(|_| Error::ConnectionReadTimeout)?
        .map_err(|e| tls_alert(&e).unwrap_or(Error::Hyper(e)))?;
        let (between_bytes, deadline) = (options.between_bytes_timeout, self.deadline);
        let response = response.map(|incoming| {
            ResponseBody {
                incoming,
                between_bytes,
                deadline,
                timer: Box::pin(tokio::time::sleep_until(cap(deadline, between_bytes))),
                received: 0,
                shared: self.clone(),
                origin: origin.clone(),
            }
            .boxed_unsync()
        });
        let io = async move {
            // The request counts as open until its connection is done.
            let _slot = slot;
            connection.await.map_err(Error::from)
        };
        Ok((response, Box::new(io)))
    }

    /// Remembers the first refusal and returns the guest's error.
    fn deny(&self, url: String, reason: String) -> Error {
        self.denial
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_or_insert(Denial { url, reason });
        Error::HttpRequestDenied
    }

    /// The TLS client configuration for `https://host:port`
    /// ([`tls::client_config`]: the system's roots plus the CA bundle, and
    /// the origin's client certificate if it has one), built on the run's
    /// first `https` request to such an origin and kept for the others:
    /// loading the system's roots blocks for a few milliseconds, which a
    /// run without `https` never pays.
    fn tls_config(&self, host: &str, port: u16) -> Result<Arc<ClientConfig>, Error> {
        let (slot, cert) = match self.policy.client_cert_for(host, port) {
            Some((i, cert)) => (&self.mtls[i], Some(cert)),
            None => (&self.tls, None),
        };
        if let Some(config) = slot.get() {
            return Ok(config.clone());
        }
        let roots = self
            .roots
            .get_or_init(|| tls::roots(self.policy.ca_bundle()))
            .clone();
        let config = tls::client_config(roots, cert)
            .map_err(|e| Error::InternalError(Some(e.to_string())))?;
        Ok(slot.get_or_init(|| Arc::new(config)).clone())
    }
}

/// The addresses a request for `host` may connect to: `addrs` less the
/// private ones ([`is_private`]) the policy does not name
/// ([`NetworkPolicy::allows_private`]). `Err` holds the first refused
/// address when none is left.
pub fn vet(
    policy: &NetworkPolicy,
    host: &str,
    addrs: impl IntoIterator<Item = SocketAddr>,
) -> Result<Vec<SocketAddr>, IpAddr> {
    let mut refused = None;
    let vetted: Vec<SocketAddr> = addrs
        .into_iter()
        .filter(|addr| {
            let ok = !is_private(addr.ip()) || policy.allows_private(host, addr.ip());
            if !ok {
                refused.get_or_insert(addr.ip());
            }
            ok
        })
        .collect();
    match refused {
        Some(ip) if vetted.is_empty() => Err(ip),
        _ => Ok(vetted),
    }
}

/// `deadline`, or sooner when `limit` from now is sooner.
fn cap(deadline: Instant, limit: Option<Duration>) -> tokio::time::Instant {
    let by = limit
        .and_then(|d| Instant::now().checked_add(d))
        .map_or(deadline, |t| t.min(deadline));
    tokio::time::Instant::from_std(by)
}

/// Connects to the first of `addrs` that accepts, in order: that address
/// and the stream, or the last address tried and why it failed (`None`:
/// there was no address). `credbox doctor` probes with it too.
pub async fn connect_first(
    addrs: &[SocketAddr],
) -> Result<(SocketAddr, TcpStream), Option<(SocketAddr, io::Error)>> {
    let mut last = None;
    for &addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(stream) => return Ok((addr, stream)),
            Err(e) => last = Some((addr, e)),
        }
    }
    Err(last)
}

/// Connects to the first address that accepts; a failure as the guest's
/// error code.
async fn connect(addrs: &[SocketAddr]) -> Result<TcpStream, Error> {
    let last = match connect_first(addrs).await {
        Ok((_, stream)) => return Ok(stream),
        Err(last) => last.map(|(_, e)| e),
    };
    Err(last.map_or(Error::DestinationNotFound, |e| match e.kind() {
        io::ErrorKind::ConnectionRefused => Error::ConnectionRefused,
        io::ErrorKind::NetworkUnreachable | io::ErrorKind::HostUnreachable => {
            Error::DestinationUnavailable
        }
        _ => Error::Connect(e),
    }))
}

/// A certificate the roots do not vouch for is the guest's
/// `TlsCertificateError` (likely a TLS-intercepting network: see
/// `[network] ca_bundle`); an alert from the server is
/// `TlsAlertReceived` (see [`tls_alert`]); other failures stay protocol
/// errors.
fn tls_error(e: io::Error) -> Error {
    match e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        Some(rustls::Error::InvalidCertificate(_)) => Error::TlsCertificateError,
        Some(rustls::Error::AlertReceived(alert)) => alert_error(*alert),
        _ => Error::Tls(e),
    }
}

/// The guest's `TlsAlertReceived` when a TLS alert from the server is
/// behind `error` (found through its sources). With TLS 1.3 a server that
/// wants a client certificate refuses it after the handshake, while the
/// request is waiting for its answer: without this, the guest would see a
/// bare protocol error.
fn tls_alert(error: &(dyn std::error::Error + 'static)) -> Option<Error> {
    let mut source = Some(error);
    while let Some(e) = source {
        // An io::Error's `source` is its inner error's source, skipping
        // the inner error itself: look at it first.
        let inner = e
            .downcast_ref::<io::Error>()
            .and_then(|io| io.get_ref())
            .map(|inner| inner as &(dyn std::error::Error + 'static));
        for candidate in [Some(e), inner].into_iter().flatten() {
            if let Some(rustls::Error::AlertReceived(alert)) =
                candidate.downcast_ref::<rustls::Error>()
            {
                return Some(alert_error(*alert));
            }
        }
        source = e.source();
    }
    None
}

/// `TlsAlertReceived` for `alert`, with what it most likely means.
fn alert_error(alert: rustls::AlertDescription) -> Error {
    use rustls::AlertDescription as A;
    let meaning = match alert {
        A::CertificateRequired | A::HandshakeFailure | A::BadCertificate | A::UnknownCA => {
            "the server wants a client certificate it trusts: see [[network.client_cert]]"
                .to_owned()
        }
        other => format!("{other:?}"),
    };
    Error::TlsAlertReceived {
        alert_id: Some(u8::from(alert)),
        alert_message: Some(meaning),
    }
}

/// A connection, plain or TLS.
trait Stream: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Stream for T {}

/// A response body under the between-bytes timeout, the deadline and
/// [`MAX_RESPONSE_BODY`].
struct ResponseBody {
    incoming: hyper::body::Incoming,
    between_bytes: Option<Duration>,
    deadline: Instant,
    timer: Pin<Box<Sleep>>,
    received: u64,
    shared: Arc<Shared>,
    /// The origin, for a cap hit's record.
    origin: String,
}

/// A request body under [`MAX_REQUEST_BODY`].
struct RequestBody {
    inner: WasiBody,
    sent: u64,
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let this = self.get_mut();
        let frame = ready!(Pin::new(&mut this.inner).poll_frame(cx));
        if let Some(Ok(frame)) = &frame {
            this.sent += frame.data_ref().map_or(0, |d| d.len() as u64);
            if this.sent > MAX_REQUEST_BODY {
                return Poll::Ready(Some(Err(Error::HttpRequestBodySize(Some(this.sent)))));
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.incoming).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                let len = frame.data_ref().map_or(0, |d| d.len() as u64);
                this.received += len;
                let total = this.shared.received.fetch_add(len, Ordering::SeqCst) + len;
                // One response's cap first: it is the one hit when both are.
                let over = match (
                    this.received > MAX_RESPONSE_BODY,
                    total > MAX_RESPONSE_BYTES,
                ) {
                    (true, _) => Some((false, this.received)),
                    (false, true) => Some((true, total)),
                    (false, false) => None,
                };
                if let Some((whole_run, size)) = over {
                    this.shared
                        .cap_hit
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .get_or_insert_with(|| CapHit {
                            url: this.origin.clone(),
                            whole_run,
                        });
                    return Poll::Ready(Some(Err(Error::HttpResponseBodySize(Some(size)))));
                }
                this.timer
                    .as_mut()
                    .reset(cap(this.deadline, this.between_bytes));
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                ready!(this.timer.as_mut().poll(cx));
                Poll::Ready(Some(Err(Error::ConnectionReadTimeout)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.incoming.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.incoming.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream as StdTcpStream};
    use std::path::Path;
    use std::thread::JoinHandle;

    use http_body_util::Empty;

    use super::*;
    use crate::manifest::NetworkTable;

    /// Serves up to `connections` connections on 127.0.0.1 with `handle`,
    /// then stops; gives up when none arrives for 10 s.
    fn serve(connections: usize, handle: fn(StdTcpStream)) -> (u16, JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let thread = std::thread::spawn(move || {
            for _ in 0..connections {
                let waiting = Instant::now();
                loop {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            stream.set_nonblocking(false).unwrap();
                            handle(stream);
                            break;
                        }
                        Err(_) if waiting.elapsed() < Duration::from_secs(10) => {
                            std::thread::sleep(Duration::from_millis(5))
                        }
                        Err(_) => return,
                    }
                }
            }
        });
        (port, thread)
    }

    /// Waits for the server thread without blocking the runtime, which
    /// must keep running to close the client's side of its connections.
    async fn finish(server: JoinHandle<()>) {
        tokio::task::spawn_blocking(move || server.join().unwrap())
            .await
            .unwrap();
    }

    /// Reads a request's head and returns its first line.
    fn read_head(stream: &mut impl Read) -> String {
        let mut head = Vec::new();
        let mut byte = [0u8];
        while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
            head.push(byte[0]);
        }
        String::from_utf8_lossy(&head)
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned()
    }

    /// Answers 200 with the request line as the body.
    fn echo_request_line(mut stream: StdTcpStream) {
        let line = read_head(&mut stream);
        let response = format!(
            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{line}",
            line.len()
        );
        let _ = stream.write_all(response.as_bytes());
    }

    /// Reads the request, then never answers until the client hangs up.
    fn never_answer(mut stream: StdTcpStream) {
        read_head(&mut stream);
        let _ = stream.read_to_end(&mut Vec::new());
    }

    /// Answers with a body one byte over the cap.
    fn oversized_body(mut stream: StdTcpStream) {
        read_head(&mut stream);
        let size = MAX_RESPONSE_BODY as usize + 1;
        let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {size}\r\n\r\n");
        let _ = stream
            .write_all(head.as_bytes())
            .and_then(|()| stream.write_all(&vec![b'x'; size]));
    }

    fn hooks(entries: &[&str], ca_bundle: Option<&str>, deadline: Duration) -> HttpHooks {
        let config = NetworkTable {
            allow: entries.iter().map(|e| e.to_string()).collect(),
            ca_bundle: ca_bundle.map(Into::into),
            ..NetworkTable::default()
        };
        let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/tls");
        let policy = NetworkPolicy::from_config(&config, &base).unwrap();
        HttpHooks::new(policy, Instant::now() + deadline)
    }

    /// Sends a GET through `hooks`, as wasi-http would, and reads the
    /// whole response.
    async fn get(
        hooks: &mut HttpHooks,
        url: &str,
        options: Option<RequestOptions>,
    ) -> Result<(u16, Bytes), Error> {
        let body = Empty::<Bytes>::new()
            .map_err(|never| match never {})
            .boxed_unsync();
        let request = http::Request::get(url).body(body).unwrap();
        let sent = hooks.send_request(request, options, Box::new(async { Ok(()) }));
        let (response, _connection) = Pin::from(sent).await?;
        let status = response.status().as_u16();
        let body = response.into_body().collect().await?.to_bytes();
        Ok((status, body))
    }

    #[tokio::test]
    async fn a_url_without_a_host_is_refused() {
        let mut hooks = hooks(&["http://127.0.0.1:*"], None, Duration::from_secs(10));
        let err = get(&mut hooks, "http://:8080/token", None)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::HttpRequestDenied), "{err}");
        assert_eq!(
            hooks.denial(),
            Some(Denial {
                url: "http://".into(),
                reason: "the URL names no host".into()
            })
        );
    }

    #[tokio::test]
    async fn allowed_requests_go_through_and_others_are_denied_and_recorded() {
        let (port, server) = serve(1, echo_request_line);
        let url = format!("http://127.0.0.1:{port}/token?secret=1");

        let mut denying = hooks(
            &[&format!("http://localhost:{port}"), "https://127.0.0.1"],
            None,
            Duration::from_secs(10),
        );
        let err = get(&mut denying, &url, None).await.unwrap_err();
        assert!(matches!(err, Error::HttpRequestDenied), "{err}");
        assert_eq!(
            denying.denial(),
            Some(Denial {
                url: format!("http://127.0.0.1:{port}"),
                reason: "not in [network] allow".into(),
            })
        );

        let mut allowing = hooks(
            &[&format!("http://127.0.0.1:{port}")],
            None,
            Duration::from_secs(10),
        );
        let (status, body) = get(&mut allowing, &url, None).await.unwrap();
        assert_eq!(status, 200);
        assert_eq!(
            body, "GET /token?secret=1 HTTP/1.1",
            "only the path and query on the wire"
        );
        assert_eq!(allowing.denial(), None);
        finish(server).await;
    }

    #[test]
    fn names_resolving_to_private_addresses_are_refused() {
        let addr = |s: &str| s.parse::<SocketAddr>().unwrap();
        let policy = |entries: &[&str]| {
            let mut p = NetworkPolicy::default();
            entries.iter().for_each(|e| p.allow(e).unwrap());
            p
        };
        let named = policy(&["https://token.example.com"]);
        assert_eq!(
            vet(&named, "token.example.com", [addr("127.0.0.1:443")]),
            Err("127.0.0.1".parse().unwrap())
        );
        assert_eq!(
            vet(
                &named,
                "token.example.com",
                [addr("[::ffff:10.0.0.1]:443"), addr("[fe80::1]:443")]
            ),
            Err("::ffff:10.0.0.1".parse().unwrap())
        );
        assert_eq!(
            vet(
                &named,
                "token.example.com",
                [addr("10.0.0.1:443"), addr("93.184.215.14:443")]
            ),
            Ok(vec![addr("93.184.215.14:443")]),
            "only the public address is used"
        );
        assert_eq!(
            vet(&named, "localhost", [addr("127.0.0.1:443")]),
            Err("127.0.0.1".parse().unwrap())
        );
        let local = policy(&[
            "http://localhost:*",
            "https://token.example.com",
            "https://10.0.0.5",
        ]);
        assert_eq!(
            vet(
                &local,
                "localhost",
                [addr("127.0.0.1:80"), addr("[::1]:80")]
            ),
            Ok(vec![addr("127.0.0.1:80"), addr("[::1]:80")])
        );
        assert_eq!(
            vet(
                &local,
                "token.example.com",
                [addr("127.0.0.1:443"), addr("10.0.0.5:443")]
            ),
            Ok(vec![addr("10.0.0.5:443")]),
            "a listed address is fine, loopback is not"
        );
        assert_eq!(vet(&local, "token.example.com", []), Ok(vec![]));
    }

    #[tokio::test]
    async fn refused_connections_fail_fast() {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut hooks = hooks(&["http://127.0.0.1:*"], None, Duration::from_secs(10));
        let start = Instant::now();
        let err = get(&mut hooks, &format!("http://127.0.0.1:{port}/"), None)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::ConnectionRefused), "{err}");
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "{:?}",
            start.elapsed()
        );
        assert_eq!(hooks.denial(), None);
    }

    #[tokio::test]
    async fn silent_servers_time_out_at_the_deadline_or_sooner_when_asked() {
        let (port, server) = serve(2, never_answer);
        let url = format!("http://127.0.0.1:{port}/");

        let mut hooks_ = hooks(&["http://127.0.0.1:*"], None, Duration::from_millis(300));
        let start = Instant::now();
        let err = get(&mut hooks_, &url, None).await.unwrap_err();
        assert!(matches!(err, Error::ConnectionReadTimeout), "{err}");
        let waited = start.elapsed();
        assert!(
            waited >= Duration::from_millis(290) && waited < Duration::from_secs(2),
            "{waited:?}"
        );

        let mut hooks_ = hooks(&["http://127.0.0.1:*"], None, Duration::from_secs(10));
        let options = RequestOptions {
            first_byte_timeout: Some(Duration::from_millis(100)),
            ..Default::default()
        };
        let start = Instant::now();
        let err = get(&mut hooks_, &url, Some(options)).await.unwrap_err();
        assert!(matches!(err, Error::ConnectionReadTimeout), "{err}");
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "{:?}",
            start.elapsed()
        );
        finish(server).await;
    }

    #[tokio::test]
    async fn response_bodies_are_capped() {
        let (port, server) = serve(1, oversized_body);
        let mut hooks = hooks(&["http://127.0.0.1:*"], None, Duration::from_secs(10));
        let err = get(&mut hooks, &format!("http://127.0.0.1:{port}/"), None)
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::HttpResponseBodySize(Some(n)) if n > MAX_RESPONSE_BODY),
            "{err}"
        );
        finish(server).await;
    }

    /// Serves TLS as `localhost` with the test CA's certificate and
    /// answers with the SNI the client sent.
    fn tls_echo_sni(mut tcp: StdTcpStream) {
        let config = credbox_test_artifacts::tls::server_config();
        let mut connection = rustls::ServerConnection::new(config).unwrap();
        let mut tls = rustls::Stream::new(&mut connection, &mut tcp);
        read_head(&mut tls);
        let sni = tls.conn.server_name().unwrap_or("none").to_owned();
        let response = format!(
            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{sni}",
            sni.len()
        );
        let _ = tls.write_all(response.as_bytes());
        tls.conn.send_close_notify();
        let _ = tls.flush();
    }

    /// Serves TLS as [`tls_echo_sni`] does, requiring a client certificate
    /// of the test client CA; answers with the certificate's subject.
    fn mtls_echo_client(mut tcp: StdTcpStream) {
        let config = credbox_test_artifacts::tls::mtls_server_config();
        let mut connection = rustls::ServerConnection::new(config).unwrap();
        let mut tls = rustls::Stream::new(&mut connection, &mut tcp);
        read_head(&mut tls);
        let presented = tls
            .conn
            .peer_certificates()
            .and_then(|c| c.first())
            .map(|leaf| {
                let (_, cert) = x509_parser::parse_x509_certificate(leaf).unwrap();
                cert.subject().to_string()
            })
            .unwrap_or_else(|| "none".into());
        let response = format!(
            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{presented}",
            presented.len()
        );
        let _ = tls.write_all(response.as_bytes());
        tls.conn.send_close_notify();
        let _ = tls.flush();
    }

    /// A `[network]` table for `entries`, with the test CA bundle and a
    /// client certificate for each of `mtls_origins`; its files in `dir`
    /// (the key copied with mode 0600).
    fn mtls_policy(
        dir: &Path,
        entries: &[&str],
        mtls_origins: &[&str],
    ) -> Result<NetworkPolicy, String> {
        use crate::manifest::ClientCertTable;
        use credbox_test_artifacts::tls;
        std::fs::copy(tls::CA, dir.join("ca.pem")).unwrap();
        std::fs::copy(tls::CLIENT_CERT, dir.join("client.pem")).unwrap();
        std::fs::copy(tls::CLIENT_KEY, dir.join("client.key")).unwrap();
        crate::platform::testing::set_mode(&dir.join("client.key"), 0o600);
        let config = NetworkTable {
            allow: entries.iter().map(|e| e.to_string()).collect(),
            ca_bundle: Some("ca.pem".into()),
            client_cert: mtls_origins
                .iter()
                .map(|origin| ClientCertTable {
                    origin: origin.to_string(),
                    cert: "client.pem".into(),
                    key: "client.key".into(),
                })
                .collect(),
            ..NetworkTable::default()
        };
        NetworkPolicy::from_config(&config, dir)
    }

    #[tokio::test]
    async fn client_certificates_go_to_their_origin_only() {
        let dir = tempfile::tempdir().unwrap();
        let (port, server) = serve(3, mtls_echo_client);
        let url = format!("https://localhost:{port}/");
        let entry = format!("https://localhost:{port}");
        let deadline = Instant::now() + Duration::from_secs(10);

        let policy = mtls_policy(dir.path(), &[&entry], &[&entry]).unwrap();
        let mut hooks = HttpHooks::new(policy, deadline);
        let (status, body) = get(&mut hooks, &url, None).await.unwrap();
        assert_eq!((status, &body[..]), (200, &b"CN=credbox test client"[..]));

        // A certificate for another origin (another port of the same host)
        // is not presented: the server refuses the handshake.
        let other = format!("https://localhost:{}", port.wrapping_add(1).max(1));
        let policy = mtls_policy(dir.path(), &[&entry, &other], &[&other]).unwrap();
        let mut hooks = HttpHooks::new(policy, deadline);
        let err = get(&mut hooks, &url, None).await.unwrap_err();
        assert!(!matches!(err, Error::TlsCertificateError), "{err}");

        let policy = mtls_policy(dir.path(), &[&entry], &[]).unwrap();
        let mut hooks = HttpHooks::new(policy, deadline);
        let err = get(&mut hooks, &url, None).await.unwrap_err();
        assert!(
            matches!(
                &err,
                Error::TlsAlertReceived { alert_id: Some(116), alert_message: Some(m) }
                    if m.contains("[[network.client_cert]]")
            ),
            "{err:?}"
        );
        finish(server).await;
    }

    #[test]
    fn client_certificate_tables_are_checked_when_read() {
        let dir = tempfile::tempdir().unwrap();
        let err =
            mtls_policy(dir.path(), &["https://a.example"], &["https://b.example"]).unwrap_err();
        assert_eq!(
            err,
            "[[network.client_cert]] 1 origin: https://b.example:443 is not in [network] allow; add it there too"
        );
        let err = mtls_policy(
            dir.path(),
            &["https://*.a.example"],
            &["https://*.a.example"],
        )
        .unwrap_err();
        assert!(err.contains("one host and one port (no `*`)"), "{err}");
        let err =
            mtls_policy(dir.path(), &["http://a.example"], &["http://a.example"]).unwrap_err();
        assert!(err.ends_with("a client certificate is for https"), "{err}");
        let err = mtls_policy(
            dir.path(),
            &["https://a.example"],
            &["https://a.example", "https://A.example:443"],
        )
        .unwrap_err();
        assert!(err.ends_with("already has a client certificate"), "{err}");

        // A key others may read is refused, like ssh does.
        mtls_policy(dir.path(), &["https://a.example"], &["https://a.example"]).unwrap();
        let key = dir.path().join("client.key");
        crate::platform::testing::set_mode(&key, 0o644);
        let config = NetworkTable {
            allow: vec!["https://a.example".into()],
            client_cert: vec![crate::manifest::ClientCertTable {
                origin: "https://a.example".into(),
                cert: "client.pem".into(),
                key: "client.key".into(),
            }],
            ..NetworkTable::default()
        };
        let err = NetworkPolicy::from_config(&config, dir.path()).unwrap_err();
        assert!(
            err.starts_with("[[network.client_cert]] 1 key: ")
                && err.contains("is readable or writable by group or others (mode 644)"),
            "{err}"
        );
        // A key that is not the certificate's.
        let other_key = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/keys/es256.pem");
        std::fs::copy(other_key, &key).unwrap();
        crate::platform::testing::set_mode(&key, 0o600);
        // Read when first used (a cache hit never reads it), as a run does
        // before its helper starts.
        let policy = NetworkPolicy::from_config(&config, dir.path()).unwrap();
        let err = policy.load_client_certs().unwrap_err();
        assert!(
            err.starts_with("[[network.client_cert]] 1 key: ") && err.ends_with("client.pem"),
            "{err}"
        );
        assert!(
            err.contains("is not the key of the certificate in"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn https_trusts_the_ca_bundle_and_sends_the_host_name() {
        let (port, server) = serve(2, tls_echo_sni);
        let entry = format!("https://localhost:{port}");
        let url = format!("https://localhost:{port}/");

        let mut trusting = hooks(&[&entry], Some("ca.pem"), Duration::from_secs(10));
        let (status, body) = get(&mut trusting, &url, None).await.unwrap();
        assert_eq!((status, &body[..]), (200, &b"localhost"[..]));

        let mut system_only = hooks(&[&entry], None, Duration::from_secs(10));
        let err = get(&mut system_only, &url, None).await.unwrap_err();
        assert!(matches!(err, Error::TlsCertificateError), "{err}");
        finish(server).await;
    }
}
