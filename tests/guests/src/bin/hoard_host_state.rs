//! Makes the host hold state for it outside its own linear memory, without sending anything:
//! argv is `MODE COUNT BYTES`, with MODE one of
//! - `bodies`: COUNT unsent requests, each with BYTES written into its body;
//! - `fields`: COUNT header-field sets, each holding one value of BYTES;
//! - `handles`: COUNT empty header-field sets (BYTES ignored).
//!
//! Everything is kept alive to the end. If the host lets it get there, the guest answers with a
//! credential (a contained run fails instead). Only a wasm32-wasip2 component has `wasi:http`;
//! the core module exits 1.

#[cfg(all(target_os = "wasi", target_env = "p2"))]
fn main() {
    use wasip2::http::types::{Fields, OutgoingRequest};

    let request = test_guests::read_request();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mode, count, bytes) = match args.as_slice() {
        [mode, count, bytes] => (
            mode.as_str(),
            count.parse::<usize>().unwrap_or(0),
            bytes.parse::<usize>().unwrap_or(0),
        ),
        _ => {
            eprintln!("usage: hoard_host_state MODE COUNT BYTES");
            std::process::exit(1);
        }
    };
    let chunk = vec![b'h'; bytes.min(1 << 20)];
    let mut kept_requests = Vec::new();
    let mut kept_fields = Vec::new();
    for _ in 0..count {
        match mode {
            "bodies" => {
                let outgoing = OutgoingRequest::new(Fields::new());
                let body = outgoing.body().expect("a request body");
                let stream = body.write().expect("a body stream");
                let mut left = bytes;
                while left > 0 {
                    let room = match stream.check_write() {
                        Ok(0) | Err(_) => break,
                        Ok(room) => room as usize,
                    };
                    let n = room.min(left).min(chunk.len());
                    if stream.write(&chunk[..n]).is_err() {
                        break;
                    }
                    left -= n;
                }
                // Dropped in this order at the end: a stream before its body, a body before its request.
                kept_requests.push((stream, body, outgoing));
            }
            "fields" => {
                let fields = Fields::new();
                let _ = fields.append("x-hoard", &chunk);
                kept_fields.push(fields);
            }
            "handles" => kept_fields.push(Fields::new()),
            other => {
                eprintln!("unknown mode {other}");
                std::process::exit(1);
            }
        }
    }
    test_guests::respond(
        request.api_version(),
        "registry.example.com",
        "hoarder",
        &format!(
            "held {} requests and {} fields",
            kept_requests.len(),
            kept_fields.len()
        ),
    );
}

#[cfg(not(all(target_os = "wasi", target_env = "p2")))]
fn main() {
    eprintln!("hoard_host_state needs wasi:http (wasm32-wasip2)");
    std::process::exit(1);
}
