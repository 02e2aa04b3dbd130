//! Plain HTTP/1.1 for native builds (plugin unit tests against a local server), `http://` only.
//!
//! The request goes through hyper's HTTP/1 client, the code that writes it on the wire under
//! the host too (its connector is hyper's), built the way wasmtime-wasi-http builds it from a
//! guest's request: `host` first, then [`super::wire_fields`] in order, and no body at all
//! when the request has no length. So the same request puts the same bytes on the wire from
//! either build (the tests below pin them).

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};

use super::{HttpError, Request, Response, Target};

/// Largest response body read natively, like the host's default cap.
const MAX_BODY: usize = 4 * 1024 * 1024;
/// The whole exchange (connect, send, response), like the host's deadline for a guest.
const TIMEOUT: Duration = Duration::from_secs(30);

pub(super) fn send(request: &Request, target: &Target) -> Result<Response, HttpError> {
    if target.https {
        return Err(HttpError::Transport(
            "native builds speak plain http:// only (https needs the wasm host)".into(),
        ));
    }
    let http_request = build(request, target)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(|e| HttpError::Transport(e.to_string()))?;
    runtime.block_on(async {
        tokio::time::timeout(TIMEOUT, exchange(http_request, &target.authority))
            .await
            .map_err(|_| HttpError::Timeout)?
    })
}

/// The request as hyper sends it: origin-form target, `host`, the wire fields.
fn build(request: &Request, target: &Target) -> Result<http::Request<Full<Bytes>>, HttpError> {
    let method = http::Method::from_bytes(request.method.to_ascii_uppercase().as_bytes())
        .map_err(|_| HttpError::InvalidUrl("method".into()))?;
    let mut builder = http::Request::builder()
        .method(method)
        .uri(target.path_and_query.as_str())
        .header(http::header::HOST, target.authority.as_str());
    for (name, value) in super::wire_fields(request)? {
        builder = builder.header(name, value);
    }
    // `Full` of no bytes is an ended body: hyper then sends no framing field at all.
    let body = match super::content_length(request) {
        Some(_) => Full::new(Bytes::from(request.body.clone())),
        None => Full::new(Bytes::new()),
    };
    builder
        .body(body)
        .map_err(|e| HttpError::InvalidHeader(e.to_string()))
}

async fn exchange(
    request: http::Request<Full<Bytes>>,
    authority: &str,
) -> Result<Response, HttpError> {
    let address = if authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| !p.contains(']'))
    {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    };
    let transport = |e: &dyn std::fmt::Display| HttpError::Transport(e.to_string());
    let stream = tokio::net::TcpStream::connect(address.as_str())
        .await
        .map_err(|e| transport(&e))?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| transport(&e))?;
    tokio::spawn(connection);
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| transport(&e))?;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = Limited::new(response.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|e| {
            if e.is::<http_body_util::LengthLimitError>() {
                HttpError::BodyTooLarge
            } else {
                transport(&e)
            }
        })?
        .to_bytes()
        .to_vec();
    Ok(Response {
        status,
        headers,
        body,
    })
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::sync::mpsc;

    use super::super::{HttpError, Request};

    /// What a server received: the request head (up to the blank line) and the body it read.
    struct Received {
        head: String,
        body: Vec<u8>,
    }

    /// A one-request server that reads the request the way a strict cloud front end does: a
    /// body framed with `Content-Length` is read and echoed back; a chunked one is refused
    /// with `411 Length Required`, unread.
    fn strict_server() -> (String, mpsc::Receiver<Received>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                conn.read_exact(&mut byte).unwrap();
                head.push(byte[0]);
            }
            let head = String::from_utf8(head).unwrap();
            let field = |name: &str| {
                head.lines().find_map(|l| {
                    let (n, v) = l.split_once(':')?;
                    n.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
                })
            };
            let reply: Vec<u8> = if field("transfer-encoding").is_some() {
                b"HTTP/1.1 411 Length Required\r\ncontent-length: 0\r\n\r\n".to_vec()
            } else {
                let length: usize = field("content-length").map_or(0, |l| l.parse().unwrap());
                let mut body = vec![0; length];
                conn.read_exact(&mut body).unwrap();
                let reply = [
                    format!("HTTP/1.1 200 OK\r\ncontent-length: {length}\r\n\r\n").as_bytes(),
                    &body,
                ]
                .concat();
                tx.send(Received {
                    head: head.clone(),
                    body,
                })
                .unwrap();
                reply
            };
            conn.write_all(&reply).unwrap();
        });
        (origin, rx)
    }

    #[test]
    fn bodies_go_out_with_content_length_and_pass_a_strict_server() {
        let (origin, received) = strict_server();
        let response = Request::post(&format!("{origin}/v1/token"))
            .header("Content-Type", "application/json")
            .header("User-Agent", "GKE auth-provider-gcp image pull")
            .body(b"{}".to_vec())
            .send()
            .unwrap();
        assert_eq!(response.status, 200);
        assert_eq!(response.body, b"{}");
        let received = received.recv().unwrap();
        let host = origin.trim_start_matches("http://");
        // The exact head the host's hyper writes for the same request from a component
        // (tests/e2e/plugin_gcp.rs pins the same layout through the host).
        assert_eq!(
            received.head,
            format!(
                "POST /v1/token HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\nuser-agent: GKE auth-provider-gcp image pull\r\ncontent-length: 2\r\n\r\n"
            )
        );
        assert_eq!(received.body, b"{}");
    }

    #[test]
    fn bodiless_requests_carry_no_framing() {
        for method in ["GET", "DELETE", "OPTIONS"] {
            let (origin, received) = strict_server();
            let response = Request::new(method, &format!("{origin}/token?x=1"))
                .send()
                .unwrap();
            assert_eq!(response.status, 200, "{method}");
            let host = origin.trim_start_matches("http://");
            assert_eq!(
                received.recv().unwrap().head,
                format!("{method} /token?x=1 HTTP/1.1\r\nhost: {host}\r\n\r\n")
            );
        }
        // An empty POST still says its length, as Go's net/http does.
        let (origin, received) = strict_server();
        Request::post(&origin).send().unwrap();
        assert!(
            received
                .recv()
                .unwrap()
                .head
                .ends_with("\r\ncontent-length: 0\r\n\r\n")
        );
    }

    #[test]
    fn reads_responses_of_every_framing() {
        for reply in [
            &b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n{\"token\":\"t\"}"[..],
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"tok\r\n8\r\nen\":\"t\"}\r\n0\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{\"token\":\"t\"}",
        ] {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let server = std::thread::spawn(move || {
                let (mut conn, _) = listener.accept().unwrap();
                let mut buf = [0u8; 1024];
                let _ = conn.read(&mut buf).unwrap();
                conn.write_all(reply).unwrap();
            });
            let response = Request::get(&format!("http://{addr}/token")).send().unwrap();
            server.join().unwrap();
            assert_eq!(response.status, 200);
            assert_eq!(response.header("Content-Type"), Some("application/json"));
            let v: serde_json::Value = response.json().unwrap();
            assert_eq!(v["token"], "t");
        }
    }

    #[test]
    fn refuses_https_and_transport_fields() {
        assert!(matches!(
            Request::get("https://127.0.0.1:1/").send(),
            Err(HttpError::Transport(_))
        ));
        assert!(matches!(
            Request::get("http://127.0.0.1:1/")
                .header("Host", "x")
                .send(),
            Err(HttpError::InvalidHeader(_))
        ));
    }
}
