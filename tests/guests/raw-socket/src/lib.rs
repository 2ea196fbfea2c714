//! Goes around `wasi:http`: opens a TCP connection to `127.0.0.1:PORT`
//! (config `PORT`), binds a UDP socket and looks up `localhost`, all
//! through `wasi:sockets`. Returns `X-Sockets: tcp=… udp=… dns=…`, each
//! `denied` (access-denied), `open` (it worked) or the error's WIT name.

use credbox_guest::{Credential, Error, Helper, Request, config_required};
use wasip2::sockets::instance_network::instance_network;
use wasip2::sockets::network::{
    ErrorCode, IpAddress, IpAddressFamily, IpSocketAddress, Ipv4SocketAddress, Network,
};
use wasip2::sockets::{ip_name_lookup, tcp_create_socket, udp_create_socket};

/// Bounds every would-block loop.
const MAX_WAITS: usize = 100;

fn verdict(result: Result<(), ErrorCode>) -> String {
    match result {
        Ok(()) => "open".to_owned(),
        Err(ErrorCode::AccessDenied) => "denied".to_owned(),
        Err(other) => other.name().to_owned(),
    }
}

fn loopback(port: u16) -> IpSocketAddress {
    IpSocketAddress::Ipv4(Ipv4SocketAddress {
        port,
        address: (127, 0, 0, 1),
    })
}

fn tcp(network: &Network, port: u16) -> Result<(), ErrorCode> {
    let socket = tcp_create_socket::create_tcp_socket(IpAddressFamily::Ipv4)?;
    socket.start_connect(network, loopback(port))?;
    for _ in 0..MAX_WAITS {
        match socket.finish_connect() {
            Err(ErrorCode::WouldBlock) => socket.subscribe().block(),
            other => return other.map(|_streams| ()),
        }
    }
    Err(ErrorCode::Timeout)
}

fn udp(network: &Network) -> Result<(), ErrorCode> {
    let socket = udp_create_socket::create_udp_socket(IpAddressFamily::Ipv4)?;
    socket.start_bind(network, loopback(0))?;
    for _ in 0..MAX_WAITS {
        match socket.finish_bind() {
            Err(ErrorCode::WouldBlock) => socket.subscribe().block(),
            other => return other,
        }
    }
    Err(ErrorCode::Timeout)
}

fn dns(network: &Network) -> Result<(), ErrorCode> {
    let addresses = ip_name_lookup::resolve_addresses(network, "localhost")?;
    for _ in 0..MAX_WAITS {
        match addresses.resolve_next_address() {
            Err(ErrorCode::WouldBlock) => addresses.subscribe().block(),
            Ok(Some(IpAddress::Ipv4(_) | IpAddress::Ipv6(_))) | Ok(None) => return Ok(()),
            Err(other) => return Err(other),
        }
    }
    Err(ErrorCode::Timeout)
}

struct RawSocket;

impl Helper for RawSocket {
    fn fetch(_request: Request) -> Result<Credential, Error> {
        let port = config_required("PORT")?
            .parse()
            .map_err(|_| Error::misconfigured("PORT is not a port number"))?;
        let network = instance_network();
        let report = format!(
            "tcp={} udp={} dns={}",
            verdict(tcp(&network, port)),
            verdict(udp(&network)),
            verdict(dns(&network)),
        );
        Ok(Credential::new().header("X-Sockets", report))
    }
}

credbox_guest::export!(RawSocket);
