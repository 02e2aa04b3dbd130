//! Sends `wasi:http` requests below the SDK, with request targets exactly as given (the SDK's
//! URL parser would normalise `..` and `%2e`): argv is `SCHEME AUTHORITY COUNT TARGET...`;
//! every TARGET is sent COUNT times, errors ignored. Answers with a credential whose password
//! lists, for the first round, `TARGET=STATUS` or `TARGET=error:<code>` joined by spaces.
//! Only a wasm32-wasip2 component has `wasi:http`; the core module exits 1.

#[cfg(all(target_os = "wasi", target_env = "p2"))]
fn main() {
    use wasip2::http::outgoing_handler;
    use wasip2::http::types::{Fields, OutgoingRequest, Scheme};

    let request = test_guests::read_request();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (scheme, authority, count) = match args.as_slice() {
        [scheme, authority, count, ..] => (scheme, authority, count.parse::<u32>().unwrap_or(1)),
        _ => {
            eprintln!("usage: raw_requests SCHEME AUTHORITY COUNT TARGET...");
            std::process::exit(1);
        }
    };
    let send = |target: &str| -> String {
        let outgoing = OutgoingRequest::new(Fields::new());
        let scheme = if scheme == "https" {
            Scheme::Https
        } else {
            Scheme::Http
        };
        if outgoing.set_scheme(Some(&scheme)).is_err()
            || outgoing.set_authority(Some(authority)).is_err()
            || outgoing.set_path_with_query(Some(target)).is_err()
        {
            return "error:invalid-target".to_owned();
        }
        let future = match outgoing_handler::handle(outgoing, None) {
            Ok(future) => future,
            Err(code) => return outcome_of(&code),
        };
        future.subscribe().block();
        match future.get() {
            Some(Ok(Ok(response))) => response.status().to_string(),
            Some(Ok(Err(code))) => outcome_of(&code),
            _ => "error:none".to_owned(),
        }
    };
    let mut first = Vec::new();
    for round in 0..count {
        for target in &args[3..] {
            let outcome = send(target);
            if round == 0 {
                first.push(format!("{target}={outcome}"));
            }
        }
    }
    test_guests::respond(
        request.api_version(),
        "registry.example.com",
        "raw",
        &first.join(" "),
    );
}

/// `error:<variant>`: the error code's name only (its details hold spaces).
#[cfg(all(target_os = "wasi", target_env = "p2"))]
fn outcome_of(code: &wasip2::http::types::ErrorCode) -> String {
    let text = format!("{code:?}");
    let name = text.trim_start_matches("ErrorCode::");
    let name = name.split(['(', ' ', '{']).next().unwrap_or(name);
    format!("error:{name}")
}

#[cfg(not(all(target_os = "wasi", target_env = "p2")))]
fn main() {
    eprintln!("raw_requests needs wasi:http (wasm32-wasip2)");
    std::process::exit(1);
}
