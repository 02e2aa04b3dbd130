//! A scriptable loopback server for the cloud plugin tests: each test gives it a handler that
//! answers like the real cloud endpoint (ECR's JSON 1.1, STS XML, IMDS, the GCE metadata
//! server, Azure IMDS, the ACR challenge and exchange), and asserts on what it received.
//!
//! One server can stand for several hosts: it records the host each request was for (the
//! absolute-form target a plain-HTTP proxy client sends, or the `Host` header), so a test points
//! `HTTP_PROXY` at a plain server, or `HTTPS_PROXY` at a [`ConnectProxy::to_port`] in front of a
//! TLS server, and the plugin keeps its real endpoint names and the README's allow-list.
//!
//! Like the strict front ends of some clouds, it refuses a request whose body is framed with
//! chunked transfer coding: `411 Length Required`, the handler not called, the body unread.
//! Every request is recorded with its head exactly as received.
//!
//! [`ConnectProxy::to_port`]: crate::http_servers::ConnectProxy::to_port

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use crate::http_servers::{TestCa, read_head};

/// One request as the server received it.
#[derive(Clone, Debug)]
pub struct Exchange {
    /// The request method.
    pub method: String,
    /// The host it was for, without port, lowercased (absolute-form target, else `Host`).
    pub host: String,
    /// The path, without the query.
    pub path: String,
    /// The query string, without `?` (empty when none).
    pub query: String,
    /// Header fields in order, names lowercased.
    pub headers: Vec<(String, String)>,
    /// The body (framed by Content-Length; empty when chunked, which is refused unread).
    pub body: Vec<u8>,
    /// The request line and header fields exactly as received, up to the blank line.
    pub head: String,
}

impl Exchange {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Asserts the body went out as every cloud SDK sends it: `Content-Length` giving its
    /// length, no `Transfer-Encoding`.
    pub fn assert_framed_by_length(&self) {
        assert_eq!(self.header("transfer-encoding"), None, "{}", self.head);
        assert_eq!(
            self.header("content-length"),
            Some(self.body.len().to_string().as_str()),
            "{}",
            self.head
        );
    }

    /// The body as text.
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The value of `key` in a form-encoded body or in the query, percent-decoded.
    pub fn form_value(&self, key: &str) -> Option<String> {
        form_value(&self.body_text(), key).or_else(|| form_value(&self.query, key))
    }
}

/// Decodes `key` out of `application/x-www-form-urlencoded` text.
pub fn form_value(form: &str, key: &str) -> Option<String> {
    form.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode(k) == key).then(|| percent_decode(v))
    })
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What the handler answers.
#[derive(Clone, Debug)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Header fields (Content-Length and Connection are added).
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Reply {
    /// A reply with a text body.
    pub fn text(status: u16, body: &str) -> Reply {
        Reply {
            status,
            headers: vec![("Content-Type".into(), "text/plain".into())],
            body: body.as_bytes().to_vec(),
        }
    }

    /// A reply with a JSON body and the given content type.
    pub fn json_as(status: u16, content_type: &str, body: &serde_json::Value) -> Reply {
        Reply {
            status,
            headers: vec![("Content-Type".into(), content_type.into())],
            body: body.to_string().into_bytes(),
        }
    }

    /// A reply with a JSON body (`application/json`).
    pub fn json(status: u16, body: &serde_json::Value) -> Reply {
        Reply::json_as(status, "application/json", body)
    }

    /// Adds a header field.
    pub fn with_header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// The function that plays the cloud endpoint.
pub type Handler = Arc<dyn Fn(&Exchange) -> Reply + Send + Sync>;

/// A loopback server answering every request with its handler.
pub struct FakeCloud {
    /// Its port on 127.0.0.1.
    pub port: u16,
    exchanges: Arc<Mutex<Vec<Exchange>>>,
}

impl FakeCloud {
    /// A plain HTTP server (also a plain-HTTP proxy: absolute-form targets are understood).
    pub fn http(handler: impl Fn(&Exchange) -> Reply + Send + Sync + 'static) -> FakeCloud {
        FakeCloud::start(None, Arc::new(handler))
    }

    /// An HTTPS server with `ca`'s server certificate.
    pub fn https(
        ca: &TestCa,
        handler: impl Fn(&Exchange) -> Reply + Send + Sync + 'static,
    ) -> FakeCloud {
        FakeCloud::start(Some(ca.server_config()), Arc::new(handler))
    }

    /// Every request received so far, in order.
    pub fn received(&self) -> Vec<Exchange> {
        self.exchanges.lock().unwrap().clone()
    }

    /// The requests received so far for `host` and `path`.
    pub fn received_at(&self, host: &str, path: &str) -> Vec<Exchange> {
        self.received()
            .into_iter()
            .filter(|e| e.host == host && e.path == path)
            .collect()
    }

    fn start(tls: Option<Arc<rustls::ServerConfig>>, handler: Handler) -> FakeCloud {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let exchanges = Arc::new(Mutex::new(Vec::new()));
        let log = exchanges.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let (log, handler, tls) = (log.clone(), handler.clone(), tls.clone());
                let Ok(socket) = conn.try_clone() else {
                    continue;
                };
                std::thread::spawn(move || match tls {
                    None => answer(conn, &socket, &log, &handler),
                    Some(config) => {
                        let Ok(session) = rustls::ServerConnection::new(config) else {
                            return;
                        };
                        let stream = rustls::StreamOwned::new(session, conn);
                        answer(stream, &socket, &log, &handler);
                    }
                });
            }
        });
        FakeCloud { port, exchanges }
    }
}

/// Reads one request, records it, writes the handler's reply and closes (`socket` is the
/// connection under `stream`).
fn answer(
    mut stream: impl Read + Write,
    socket: &TcpStream,
    log: &Mutex<Vec<Exchange>>,
    handler: &Handler,
) {
    let Some(exchange) = read_request(&mut stream) else {
        return;
    };
    log.lock().unwrap().push(exchange.clone());
    let reply = if exchange.header("transfer-encoding").is_some() {
        Reply::text(411, "Length Required")
    } else {
        handler(&exchange)
    };
    let mut head = format!("HTTP/1.1 {} Status\r\n", reply.status);
    for (name, value) in &reply.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        reply.body.len()
    ));
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(&reply.body);
    let _ = stream.flush();
    // A lingering close, as HTTP servers do: closing with a request body still unread (the 411
    // case) would reset the connection and could destroy the reply before the client reads it.
    let _ = socket.shutdown(std::net::Shutdown::Write);
    let _ = socket.set_read_timeout(Some(std::time::Duration::from_secs(2)));
    let mut sink = [0u8; 4096];
    let mut drained = 0usize;
    let mut raw = socket;
    while drained < 1 << 20 {
        match raw.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(n) => drained += n,
        }
    }
}

fn read_request(stream: &mut impl Read) -> Option<Exchange> {
    let head = read_head(stream)?;
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let method = request_line.next()?.to_owned();
    let target = request_line.next()?.to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    // Absolute form (`http://host:port/path`) when the client thinks we are its proxy.
    let (authority, path_and_query) = match target.split_once("://") {
        Some((_, rest)) => match rest.find('/') {
            Some(i) => (rest[..i].to_owned(), rest[i..].to_owned()),
            None => (rest.to_owned(), "/".to_owned()),
        },
        None => (header("host").unwrap_or_default(), target.clone()),
    };
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default().to_owned(),
        None => authority.split(':').next().unwrap_or_default().to_owned(),
    }
    .to_ascii_lowercase();
    let (path, query) = match path_and_query.split_once('?') {
        Some((p, q)) => (p.to_owned(), q.to_owned()),
        None => (path_and_query, String::new()),
    };
    let body = if header("transfer-encoding").is_some() {
        Vec::new()
    } else {
        let len: usize = header("content-length")
            .and_then(|l| l.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; len];
        stream.read_exact(&mut body).ok()?;
        body
    };
    Some(Exchange {
        method,
        host,
        path,
        query,
        headers,
        body,
        head,
    })
}
