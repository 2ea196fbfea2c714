//! Loopback HTTP/1.1 servers for the network tests.
//!
//! A [`Server`] listens on a loopback address, reads one request per
//! connection and answers it as its handler says: a whole response, nothing
//! at all, or a body dripped a byte a second. It stops (and hands back the
//! requests it read) when the test stops it or drops it; every loop in it
//! is bounded by that stop flag and by [`MAX_LIFETIME`].
//!
//! [`mock_apis`] holds handlers that stand in for the APIs Claude Code
//! talks to; [`proxy`] is a forward proxy that demands credentials;
//! [`package_index`], a Python package index for pip and uv.

pub mod mock_apis;
pub mod package_index;
pub mod proxy;

use credbox_test_artifacts::GUEST_HTTP_GET;

use super::util::{TempManifest, manifest};

use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// No server outlives this, whatever the test does.
const MAX_LIFETIME: Duration = Duration::from_secs(60);
/// Connections a server accepts at most.
const MAX_CONNECTIONS: usize = 16;
/// How often blocked loops look at the stop flag.
const TICK: Duration = Duration::from_millis(20);
/// Bytes in a dripped body: one a second, far longer than any test waits.
const DRIP_LEN: usize = 60;

/// A request as the server read it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// The request target: path and query.
    pub target: String,
    /// Names lowercase, in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    /// The first header called `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn body_text(&self) -> &str {
        std::str::from_utf8(&self.body).expect("a UTF-8 body")
    }
}

/// How the server answers a request.
pub enum Reply {
    /// A whole response, `connection: close`.
    Full {
        status: u16,
        headers: Vec<(&'static str, String)>,
        body: Vec<u8>,
    },
    /// Nothing, until the client hangs up.
    Silent,
    /// `200` with a `content-length` of [`DRIP_LEN`], then one body byte a
    /// second until the client hangs up.
    Drip,
}

impl Reply {
    /// `200` with `body` as text.
    pub fn text(body: &str) -> Reply {
        Reply::status(200, "text/plain", body)
    }

    /// `200` with `body` as JSON.
    pub fn json(body: &str) -> Reply {
        Reply::status(200, "application/json", body)
    }

    /// `status` with a body of `content_type`.
    pub fn status(status: u16, content_type: &str, body: &str) -> Reply {
        Reply::Full {
            status,
            headers: vec![("content-type", content_type.to_owned())],
            body: body.as_bytes().to_vec(),
        }
    }

    /// A redirect to `location`.
    pub fn redirect(status: u16, location: &str) -> Reply {
        Reply::Full {
            status,
            headers: vec![("location", location.to_owned())],
            body: Vec::new(),
        }
    }
}

type Handler = dyn Fn(&Request) -> Reply + Send + Sync;

/// A server on a loopback address, running until stopped or dropped.
pub struct Server {
    addr: SocketAddr,
    tls: bool,
    stop: Arc<AtomicBool>,
    requests: Arc<Mutex<Vec<Request>>>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Serves on 127.0.0.1, answering each request with `handler`.
    pub fn start(handler: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> Server {
        Server::start_on(IpAddr::V4(Ipv4Addr::LOCALHOST), handler)
    }

    /// As [`Server::start`], but hangs up at once on a connection that
    /// does not start like an HTTP request (a TLS handshake): a client
    /// that tries https first (skopeo) falls back to http without waiting
    /// out its handshake timeout.
    pub fn start_http_only(handler: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> Server {
        Server::spawn(
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            None,
            Arc::new(handler),
            true,
        )
    }

    /// A token server: the n-th request (counting from 1) is answered
    /// `tok-n` after `delay(n)`.
    pub fn numbered_tokens(delay: impl Fn(usize) -> Duration + Send + Sync + 'static) -> Server {
        let served = AtomicUsize::new(0);
        Server::start(move |_| {
            let n = served.fetch_add(1, Ordering::SeqCst) + 1;
            std::thread::sleep(delay(n));
            Reply::text(&format!("tok-{n}"))
        })
    }

    /// Serves HTTPS on 127.0.0.1 with the test certificate for `localhost`
    /// and `127.0.0.1`, issued by a CA no system trusts (see
    /// [`credbox_test_artifacts::tls`]).
    pub fn start_tls(handler: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> Server {
        Server::spawn(
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            Some(credbox_test_artifacts::tls::server_config()),
            Arc::new(handler),
            false,
        )
    }

    /// Like [`Server::start_tls`], but the TLS handshake fails unless the
    /// client presents a certificate issued by the test client CA
    /// ([`credbox_test_artifacts::tls::mtls_server_config`]): a request
    /// that reaches `handler` proved it holds the client key.
    pub fn start_mtls(handler: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> Server {
        Server::spawn(
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            Some(credbox_test_artifacts::tls::mtls_server_config()),
            Arc::new(handler),
            false,
        )
    }

    /// Serves on `ip`, which must be a loopback address.
    pub fn start_on(
        ip: IpAddr,
        handler: impl Fn(&Request) -> Reply + Send + Sync + 'static,
    ) -> Server {
        Server::spawn(ip, None, Arc::new(handler), false)
    }

    fn spawn(
        ip: IpAddr,
        tls: Option<Arc<rustls::ServerConfig>>,
        handler: Arc<Handler>,
        http_only: bool,
    ) -> Server {
        assert!(
            ip.is_loopback(),
            "test servers listen on loopback only, not {ip}"
        );
        let listener = TcpListener::bind((ip, 0)).unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let secure = tls.is_some();
        let thread = {
            let (stop, requests) = (stop.clone(), requests.clone());
            std::thread::spawn(move || {
                accept_loop(listener, tls, handler, stop, requests, http_only)
            })
        };
        Server {
            addr,
            tls: secure,
            stop,
            requests,
            thread: Some(thread),
        }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http://<address>:<port>` (`https://` for [`Server::start_tls`]),
    /// as a URL and as an allowlist entry.
    pub fn origin(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// The requests read so far, in order.
    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }

    /// Stops the server and returns the requests it read, in order.
    pub fn stop(mut self) -> Vec<Request> {
        self.shut_down();
        std::mem::take(&mut *self.requests.lock().unwrap())
    }

    fn shut_down(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let result = thread.join();
            // A failing test drops its servers while unwinding: do not
            // panic twice.
            if !std::thread::panicking() {
                result.expect("the test server panicked");
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shut_down();
    }
}

/// Accepts connections, each answered on a thread of its own, until
/// stopped; then waits for those threads.
fn accept_loop(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    handler: Arc<Handler>,
    stop: Arc<AtomicBool>,
    requests: Arc<Mutex<Vec<Request>>>,
    http_only: bool,
) {
    let started = Instant::now();
    let mut connections = Vec::new();
    while !stop.load(Ordering::Relaxed)
        && started.elapsed() < MAX_LIFETIME
        && connections.len() < MAX_CONNECTIONS
    {
        match listener.accept() {
            Ok((stream, _)) => {
                let (handler, stop, requests) = (handler.clone(), stop.clone(), requests.clone());
                let tls = tls.clone();
                connections.push(std::thread::spawn(move || {
                    configure(&stream);
                    match tls {
                        None => serve(stream, &*handler, &stop, &requests, started, http_only),
                        Some(config) => {
                            let connection = rustls::ServerConnection::new(config).unwrap();
                            let stream = rustls::StreamOwned::new(connection, stream);
                            serve(stream, &*handler, &stop, &requests, started, false)
                        }
                    }
                }));
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => std::thread::sleep(TICK),
            Err(e) => panic!("accept failed: {e}"),
        }
    }
    // Wake the connections still being answered.
    stop.store(true, Ordering::Relaxed);
    for connection in connections {
        connection.join().unwrap();
    }
}

/// Whether a connection's loops must end.
fn stopping(stop: &AtomicBool, started: Instant) -> bool {
    stop.load(Ordering::Relaxed) || started.elapsed() >= MAX_LIFETIME
}

/// Blocking reads that wake every [`TICK`] to look at the stop flag.
fn configure(stream: &TcpStream) {
    stream.set_nonblocking(false).unwrap();
    stream.set_read_timeout(Some(TICK)).unwrap();
    stream
        .set_write_timeout(Some(Duration::from_secs(5)))
        .unwrap();
}

/// Reads one request from `stream` (plain TCP or TLS over it) and
/// answers it.
fn serve(
    mut stream: impl Read + Write,
    handler: &Handler,
    stop: &AtomicBool,
    requests: &Mutex<Vec<Request>>,
    started: Instant,
    http_only: bool,
) {
    let Some(request) = read_request(&mut stream, stop, started, http_only) else {
        return;
    };
    let reply = handler(&request);
    requests.lock().unwrap().push(request);
    match reply {
        Reply::Full {
            status,
            headers,
            body,
        } => {
            let mut head = format!(
                "HTTP/1.1 {status} Test\r\ncontent-length: {}\r\nconnection: close\r\n",
                body.len()
            );
            for (name, value) in headers {
                head += &format!("{name}: {value}\r\n");
            }
            head += "\r\n";
            // The client may hang up early (a body over the cap).
            let _ = stream
                .write_all(head.as_bytes())
                .and_then(|()| stream.write_all(&body));
        }
        Reply::Silent => {
            let mut ignored = Vec::new();
            while read_more(&mut stream, &mut ignored, stop, started).is_some() {
                ignored.clear();
            }
        }
        Reply::Drip => {
            let head = format!("HTTP/1.1 200 Test\r\ncontent-length: {DRIP_LEN}\r\n\r\n");
            if stream.write_all(head.as_bytes()).is_err() {
                return;
            }
            let mut last = Instant::now();
            let mut sent = 0;
            while sent < DRIP_LEN && !stopping(stop, started) {
                std::thread::sleep(TICK);
                if last.elapsed() >= Duration::from_secs(1) {
                    if stream.write_all(b"x").is_err() {
                        break;
                    }
                    sent += 1;
                    last = Instant::now();
                }
            }
        }
    }
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

/// Reads a request head and its `content-length` body; `None` if the
/// client hangs up first or the server stops (or, `http_only`, sends
/// something that does not start like HTTP).
fn read_request(
    stream: &mut impl Read,
    stop: &AtomicBool,
    started: Instant,
    http_only: bool,
) -> Option<Request> {
    let mut data: Vec<u8> = Vec::new();
    let head_end = loop {
        if let Some(i) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        if data.len() > 64 * 1024 {
            return None;
        }
        if http_only && data.first().is_some_and(|b| !b.is_ascii_uppercase()) {
            return None;
        }
        read_more(stream, &mut data, stop, started)?;
    };
    let head = String::from_utf8(data[..head_end].to_vec()).ok()?;
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let (method, target) = (
        request_line.next()?.to_owned(),
        request_line.next()?.to_owned(),
    );
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .map_or(0, |(_, v)| v.parse().unwrap());
    let mut body = data[head_end + 4..].to_vec();
    while body.len() < length {
        read_more(stream, &mut body, stop, started)?;
    }
    Some(Request {
        method,
        target,
        headers,
        body,
    })
}

/// Appends what `stream` has to `data`, waiting at most a [`TICK`]:
/// `None` once the client hangs up or the server stops.
fn read_more(
    stream: &mut impl Read,
    data: &mut Vec<u8>,
    stop: &AtomicBool,
    started: Instant,
) -> Option<()> {
    if stopping(stop, started) {
        return None;
    }
    let mut buf = [0u8; 4096];
    match stream.read(&mut buf) {
        Ok(0) => None,
        Ok(n) => {
            data.extend_from_slice(&buf[..n]);
            Some(())
        }
        Err(e) if is_timeout(&e) => Some(()),
        Err(_) => None,
    }
}

/// A loopback port with nothing listening on it: connections are refused.
pub fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// A manifest named `name` for the `http-get` guest, which answers the
/// token it fetches from `tokens`' `/token` (the one origin it may reach),
/// with `cache` as the lines of its `[cache]` table (none when empty).
pub fn token_helper(name: &str, tokens: &Server, cache: &str) -> TempManifest {
    let table = match cache {
        "" => String::new(),
        lines => format!("[cache]\n{lines}"),
    };
    let body = format!(
        "{table}[network]\nallow = [{origin:?}]\n[config]\nURL = \"{origin}/token\"\n",
        origin = tokens.origin()
    );
    manifest(name, GUEST_HTTP_GET, &body)
}

/// A helper whose credential lives 15 s (refreshed from 12 s on), fetched
/// from a token server that answers its first request at once and the
/// later ones after 1 s.
pub fn refreshing_helper() -> (Server, TempManifest) {
    let tokens = Server::numbered_tokens(|n| match n {
        1 => Duration::ZERO,
        _ => Duration::from_secs(1),
    });
    let m = token_helper("swr", &tokens, "ttl = \"15s\"\n");
    (tokens, m)
}
