//! Loopback servers for the outbound HTTP tests: an HTTP/HTTPS origin with a few routes, a test
//! CA made at test time (rcgen), and a CONNECT proxy. Every server listens on 127.0.0.1 and
//! records what reached it, so a test can assert a refused request never left the host.
//!
//! Routes: `/hang` never answers; `/big` streams 5 MiB with no Content-Length; `/redirect?to=URL`
//! answers 302 to URL; anything else answers 200 `hello from <path>`.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A CA and a server certificate it signed (by default for `allowed.test`, `denied.test` and
/// `localhost`).
pub struct TestCa {
    /// The CA certificate as a PEM file (for `--ca-file`).
    pub ca_file: PathBuf,
    /// The server certificate as a PEM file (for servers that are not in this process).
    pub server_cert_file: PathBuf,
    /// The server certificate's private key as a PEM file.
    pub server_key_file: PathBuf,
    _dir: tempfile::TempDir,
    server: Arc<rustls::ServerConfig>,
}

impl TestCa {
    /// Makes a fresh CA and server certificate.
    pub fn new() -> TestCa {
        TestCa::with_names(&["allowed.test", "denied.test", "localhost"])
    }

    /// Makes a fresh CA and a server certificate for `names` (DNS names, or IP addresses).
    pub fn with_names(names: &[&str]) -> TestCa {
        use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(
            rcgen::DnType::CommonName,
            "wasm-credential-provider test CA",
        );
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
        let leaf_key = KeyPair::generate().unwrap();
        let leaf =
            CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())
                .unwrap()
                .signed_by(&leaf_key, &ca)
                .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let ca_file = dir.path().join("ca.pem");
        std::fs::write(&ca_file, ca.pem()).unwrap();
        let server_cert_file = dir.path().join("server.crt");
        std::fs::write(&server_cert_file, leaf.pem()).unwrap();
        let server_key_file = dir.path().join("server.key");
        std::fs::write(&server_key_file, leaf_key.serialize_pem()).unwrap();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
        let chain: Vec<CertificateDer<'static>> = vec![leaf.der().clone()];
        let server = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
        TestCa {
            ca_file,
            server_cert_file,
            server_key_file,
            _dir: dir,
            server: Arc::new(server),
        }
    }

    /// The server side TLS configuration (the certificate for the names given).
    pub fn server_config(&self) -> Arc<rustls::ServerConfig> {
        self.server.clone()
    }

    /// The CA file's path as a string.
    pub fn ca_path(&self) -> &str {
        self.ca_file.to_str().unwrap()
    }
}

/// An origin server on 127.0.0.1.
pub struct Origin {
    /// Its port.
    pub port: u16,
    /// `METHOD target` of every request it received.
    pub requests: Arc<Mutex<Vec<String>>>,
}

impl Origin {
    /// A plain HTTP origin.
    pub fn http() -> Origin {
        Origin::start(None)
    }

    /// An HTTPS origin with `ca`'s server certificate.
    pub fn https(ca: &TestCa) -> Origin {
        Origin::start(Some(ca.server.clone()))
    }

    /// What it received so far.
    pub fn received(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }

    fn start(tls: Option<Arc<rustls::ServerConfig>>) -> Origin {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let log = requests.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let log = log.clone();
                let tls = tls.clone();
                std::thread::spawn(move || match tls {
                    None => serve(conn, &log),
                    Some(config) => {
                        let Ok(session) = rustls::ServerConnection::new(config) else {
                            return;
                        };
                        serve(rustls::StreamOwned::new(session, conn), &log);
                    }
                });
            }
        });
        Origin { port, requests }
    }
}

/// Reads a request or response head, up to and including the blank line.
pub fn read_head(stream: &mut impl Read) -> Option<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 16 * 1024 || stream.read(&mut byte).ok()? == 0 {
            return None;
        }
        head.push(byte[0]);
    }
    Some(String::from_utf8_lossy(&head).into_owned())
}

fn serve(mut stream: impl Read + Write, log: &Mutex<Vec<String>>) {
    let Some(head) = read_head(&mut stream) else {
        return;
    };
    let line = head.lines().next().unwrap_or_default();
    let mut parts = line.split(' ');
    let method = parts.next().unwrap_or_default().to_owned();
    let target = parts.next().unwrap_or_default().to_owned();
    log.lock().unwrap().push(format!("{method} {target}"));
    let path = target.split('?').next().unwrap_or_default();
    match path {
        "/hang" => std::thread::sleep(Duration::from_secs(120)),
        "/big" => {
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
            let chunk = vec![b'a'; 64 * 1024];
            for _ in 0..80 {
                if stream.write_all(&chunk).is_err() {
                    return;
                }
            }
            let _ = stream.flush();
        }
        "/redirect" => {
            let to = target.split_once("?to=").map_or("/", |(_, to)| to);
            let answer = format!(
                "HTTP/1.1 302 Found\r\nLocation: {to}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            let _ = stream.write_all(answer.as_bytes());
            let _ = stream.flush();
        }
        _ => {
            let body = format!("hello from {path}");
            let answer = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(answer.as_bytes());
            let _ = stream.flush();
        }
    }
}

/// A CONNECT proxy on 127.0.0.1 that tunnels to 127.0.0.1 at the requested port, whatever the
/// requested host name.
pub struct ConnectProxy {
    /// Its port.
    pub port: u16,
    /// The request line of every request it received.
    pub requests: Arc<Mutex<Vec<String>>>,
}

impl ConnectProxy {
    /// Starts the proxy.
    pub fn start() -> ConnectProxy {
        ConnectProxy::tunnelling(None)
    }

    /// Starts a proxy that tunnels every CONNECT to 127.0.0.1:`port`, whatever host and port
    /// were asked for (so a guest asking for `api.example:443` reaches a loopback test server).
    pub fn to_port(port: u16) -> ConnectProxy {
        ConnectProxy::tunnelling(Some(port))
    }

    fn tunnelling(fixed_port: Option<u16>) -> ConnectProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let log = requests.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                let log = log.clone();
                std::thread::spawn(move || {
                    let Some(head) = read_head(&mut conn) else {
                        return;
                    };
                    let line = head.lines().next().unwrap_or_default().to_owned();
                    log.lock().unwrap().push(line.clone());
                    let target_port = line
                        .strip_prefix("CONNECT ")
                        .and_then(|rest| rest.split(' ').next())
                        .and_then(|target| target.rsplit_once(':'))
                        .and_then(|(_, port)| port.parse::<u16>().ok());
                    let Some(target_port) = target_port.map(|p| fixed_port.unwrap_or(p)) else {
                        let _ = conn.write_all(b"HTTP/1.1 405 Method Not Allowed\r\n\r\n");
                        return;
                    };
                    let Ok(upstream) = TcpStream::connect(("127.0.0.1", target_port)) else {
                        let _ = conn.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n");
                        return;
                    };
                    let _ = conn.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n");
                    let (mut a_read, mut b_write) =
                        (conn.try_clone().unwrap(), upstream.try_clone().unwrap());
                    let (mut b_read, mut a_write) = (upstream, conn);
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut a_read, &mut b_write);
                        let _ = b_write.shutdown(std::net::Shutdown::Write);
                    });
                    let _ = std::io::copy(&mut b_read, &mut a_write);
                    let _ = a_write.shutdown(std::net::Shutdown::Write);
                });
            }
        });
        ConnectProxy { port, requests }
    }

    /// What it received so far.
    pub fn received(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}
