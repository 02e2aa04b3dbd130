//! Attacks the network: TCP connect to argv[1] (default `127.0.0.1:4242`), a UDP send
//! to the same address, and a DNS lookup of `localhost`. The test expects all three to
//! fail (no sockets): exit 3 with a `denied:` line on stderr. Any success prints a
//! valid response with `ESCAPED:<what>` and exits 0.

use std::net::{TcpStream, ToSocketAddrs, UdpSocket};

fn main() {
    let request = test_guests::read_request();
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:4242".to_owned());
    let mut got = Vec::new();
    let mut errors = Vec::new();

    match TcpStream::connect(&addr) {
        Ok(stream) => got.push(format!("tcp connect {addr} from {:?}", stream.local_addr())),
        Err(err) => errors.push(format!("tcp connect {addr}: {err}")),
    }
    match UdpSocket::bind("0.0.0.0:0").and_then(|socket| socket.send_to(b"escaped", &addr)) {
        Ok(sent) => got.push(format!("udp send {sent} bytes to {addr}")),
        Err(err) => errors.push(format!("udp send {addr}: {err}")),
    }
    match ("localhost", 80).to_socket_addrs() {
        Ok(addrs) => got.push(format!("dns localhost: {:?}", addrs.collect::<Vec<_>>())),
        Err(err) => errors.push(format!("dns localhost: {err}")),
    }

    if !got.is_empty() {
        test_guests::escaped(&request, &got.join("; "));
    }
    test_guests::denied(&errors.join("; "));
}
