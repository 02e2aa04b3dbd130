//! Plain HTTP/1.1 over `std::net` for native builds (plugin unit tests against a local server).
//! `https://` is not supported natively.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use super::{HttpError, Request, Response, Url};

/// Largest response body read natively, like the host's default cap.
const MAX_BODY: u64 = 4 * 1024 * 1024;

pub(super) fn send(request: &Request, url: &Url) -> Result<Response, HttpError> {
    if url.https {
        return Err(HttpError::Transport(
            "native builds speak plain http:// only (https needs the wasm host)".into(),
        ));
    }
    let target = if url.authority.contains(':') {
        url.authority.clone()
    } else {
        format!("{}:80", url.authority)
    };
    let io = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => HttpError::Timeout,
        _ => HttpError::Transport(e.to_string()),
    };
    let mut stream = TcpStream::connect(&target).map_err(io)?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(io)?;
    let mut head = format!(
        "{} {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
        request.method,
        url.path_and_query,
        url.authority,
        request.body.len()
    );
    for (name, value) in &request.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).map_err(io)?;
    stream.write_all(&request.body).map_err(io)?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).map_err(io)?;
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| HttpError::Transport("malformed status line".into()))?;
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line).map_err(io)?;
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            break;
        }
        if let Some((n, v)) = trimmed.split_once(':') {
            headers.push((n.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
    }
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    let mut body = Vec::new();
    if chunked {
        loop {
            line.clear();
            reader.read_line(&mut line).map_err(io)?;
            let size = u64::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|_| HttpError::Transport("malformed chunk".into()))?;
            if size == 0 {
                break;
            }
            if body.len() as u64 + size > MAX_BODY {
                return Err(HttpError::BodyTooLarge);
            }
            let mut chunk = vec![0; size as usize];
            reader.read_exact(&mut chunk).map_err(io)?;
            body.extend_from_slice(&chunk);
            line.clear();
            reader.read_line(&mut line).map_err(io)?;
        }
    } else {
        reader
            .take(MAX_BODY + 1)
            .read_to_end(&mut body)
            .map_err(io)?;
        if body.len() as u64 > MAX_BODY {
            return Err(HttpError::BodyTooLarge);
        }
    }
    Ok(Response {
        status,
        headers,
        body,
    })
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;

    use super::super::Request;

    #[test]
    fn talks_to_a_local_server() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut buf = [0u8; 1024];
            let n = std::io::Read::read(&mut conn, &mut buf).unwrap();
            assert!(String::from_utf8_lossy(&buf[..n]).starts_with("GET /token?x=1 HTTP/1.1"));
            std::io::Write::write_all(
                &mut conn,
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{\"token\":\"t\"}",
            )
            .unwrap();
        });
        let response = Request::get(&format!("http://{addr}/token?x=1"))
            .send()
            .unwrap();
        server.join().unwrap();
        assert_eq!(response.status, 200);
        assert_eq!(response.header("Content-Type"), Some("application/json"));
        let v: serde_json::Value = response.json().unwrap();
        assert_eq!(v["token"], "t");
    }
}
