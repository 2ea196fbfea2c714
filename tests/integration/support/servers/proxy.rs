//! A forward proxy on loopback that demands `Proxy-Authorization`, for
//! Claude Code's `proxyAuthHelper`.
//!
//! It answers `CONNECT host:port` (how a client reaches an `https` API
//! through a proxy): a request whose `Proxy-Authorization` the test's
//! `accepts` refuses gets `407` with the test's challenge in
//! `Proxy-Authenticate`; an accepted one gets `200` and a tunnel to the
//! target, which must be on 127.0.0.1 (the test's own servers). Anything
//! but `CONNECT` gets `405`. Every loop is bounded by the stop flag, by
//! [`MAX_LIFETIME`] and by [`MAX_CONNECTIONS`].

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use super::{MAX_LIFETIME, TICK};

/// Connections the proxy accepts at most: each refused `CONNECT` costs
/// the client a connection.
const MAX_CONNECTIONS: usize = 64;

/// A request the proxy read, and how it answered.
#[derive(Debug, Clone)]
pub struct Seen {
    /// `CONNECT`, or whatever else came.
    pub method: String,
    /// `host:port` for `CONNECT`.
    pub target: String,
    /// The `Proxy-Authorization` value, when sent.
    pub authorization: Option<String>,
    /// The status answered: 200, 407, 403 or 405.
    pub status: u16,
}

type Accepts = dyn Fn(Option<&str>) -> bool + Send + Sync;

/// The proxy, running until stopped or dropped.
pub struct Proxy {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<Seen>>>,
    thread: Option<JoinHandle<()>>,
}

impl Proxy {
    /// Listens on 127.0.0.1: `accepts` judges each `Proxy-Authorization`
    /// (`None` when absent); a refused one gets `challenge`.
    pub fn start(
        accepts: impl Fn(Option<&str>) -> bool + Send + Sync + 'static,
        challenge: &str,
    ) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let accepts: Arc<Accepts> = Arc::new(accepts);
        let challenge = challenge.to_owned();
        let thread = {
            let (stop, seen) = (stop.clone(), seen.clone());
            std::thread::spawn(move || accept_loop(listener, accepts, challenge, stop, seen))
        };
        Proxy {
            addr,
            stop,
            seen,
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:<port>`, for `HTTPS_PROXY`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops the proxy; what it saw, in order.
    pub fn stop(mut self) -> Vec<Seen> {
        self.shut_down();
        std::mem::take(&mut *self.seen.lock().unwrap())
    }

    fn shut_down(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let result = thread.join();
            if !std::thread::panicking() {
                result.expect("the test proxy panicked");
            }
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shut_down();
    }
}

fn accept_loop(
    listener: TcpListener,
    accepts: Arc<Accepts>,
    challenge: String,
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<Seen>>>,
) {
    let started = Instant::now();
    let mut connections = Vec::new();
    while !stop.load(Ordering::Relaxed)
        && started.elapsed() < MAX_LIFETIME
        && connections.len() < MAX_CONNECTIONS
    {
        match listener.accept() {
            Ok((stream, _)) => {
                let (accepts, challenge) = (accepts.clone(), challenge.clone());
                let (stop, seen) = (stop.clone(), seen.clone());
                connections.push(std::thread::spawn(move || {
                    serve(stream, &*accepts, &challenge, &stop, &seen, started)
                }));
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => std::thread::sleep(TICK),
            Err(e) => panic!("accept failed: {e}"),
        }
    }
    stop.store(true, Ordering::Relaxed);
    for connection in connections {
        connection.join().unwrap();
    }
}

fn stopping(stop: &AtomicBool, started: Instant) -> bool {
    stop.load(Ordering::Relaxed) || started.elapsed() >= MAX_LIFETIME
}

fn serve(
    mut client: TcpStream,
    accepts: &Accepts,
    challenge: &str,
    stop: &AtomicBool,
    seen: &Mutex<Vec<Seen>>,
    started: Instant,
) {
    client.set_nonblocking(false).unwrap();
    client.set_read_timeout(Some(TICK)).unwrap();
    // The request head.
    let mut data = Vec::new();
    let head_end = loop {
        if let Some(i) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        if data.len() > 64 * 1024 || stopping(stop, started) {
            return;
        }
        let mut buf = [0u8; 4096];
        match client.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => data.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return,
        }
    };
    let head = String::from_utf8_lossy(&data[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap_or_default().split(' ');
    let method = request_line.next().unwrap_or_default().to_owned();
    let target = request_line.next().unwrap_or_default().to_owned();
    let authorization = lines
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("proxy-authorization"))
        .map(|(_, value)| value.trim().to_owned());
    let upstream = target
        .strip_prefix("127.0.0.1:")
        .and_then(|port| port.parse::<u16>().ok());
    let status = match (method.as_str(), upstream) {
        ("CONNECT", Some(_)) if accepts(authorization.as_deref()) => 200,
        ("CONNECT", Some(_)) => 407,
        ("CONNECT", None) => 403,
        _ => 405,
    };
    seen.lock().unwrap().push(Seen {
        method,
        target,
        authorization,
        status,
    });
    let refuse = |client: &mut TcpStream, head: String| {
        let _ = client.write_all(head.as_bytes());
    };
    match (status, upstream) {
        (200, Some(port)) => {
            let Ok(mut server) = TcpStream::connect(("127.0.0.1", port)) else {
                return refuse(&mut client, "HTTP/1.1 502 Bad Gateway\r\n\r\n".into());
            };
            if client
                .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
                .is_err()
            {
                return;
            }
            let _ = server.write_all(&data[head_end + 4..]);
            tunnel(client, server, stop, started);
        }
        (407, _) => refuse(
            &mut client,
            format!(
                "HTTP/1.1 407 Proxy Authentication Required\r\nproxy-authenticate: {challenge}\r\n\
                 content-length: 0\r\nconnection: close\r\n\r\n"
            ),
        ),
        (status, _) => refuse(
            &mut client,
            format!("HTTP/1.1 {status} No\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"),
        ),
    }
}

/// Copies bytes both ways until either side hangs up or the proxy stops.
fn tunnel(client: TcpStream, server: TcpStream, stop: &AtomicBool, started: Instant) {
    let pump = |mut from: TcpStream, mut to: TcpStream| {
        from.set_read_timeout(Some(TICK)).unwrap();
        let mut buf = [0u8; 16 * 1024];
        while !stopping(stop, started) {
            match from.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    if to.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(_) => break,
            }
        }
        let _ = to.shutdown(std::net::Shutdown::Write);
    };
    let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
    std::thread::scope(|scope| {
        scope.spawn(|| pump(client, server));
        scope.spawn(|| pump(s2, c2));
    });
}
