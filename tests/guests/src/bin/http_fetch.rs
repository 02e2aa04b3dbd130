//! Fetches argv[1] with the SDK's HTTP client (`wasi:http` on wasm32-wasip2). Options after the
//! URL: `follow` follows one redirect (a new request the host checks again), `repeat=N` sends
//! the request N times. On success it answers with a credential whose password is
//! `STATUS <code> BODY <body>`; on failure it writes `http error: <kind>: <message>` to stderr
//! and exits 3 if the host's policy denied the request, 4 otherwise.

use credential_provider_sdk::http::{HttpError, Request, redirect_target};

fn main() {
    let request = test_guests::read_request();
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .unwrap_or_else(|| "https://example.com/".to_owned());
    let options: Vec<String> = args.collect();
    let follow = options.iter().any(|o| o == "follow");
    let repeat = options
        .iter()
        .find_map(|o| o.strip_prefix("repeat=")?.parse::<u32>().ok())
        .unwrap_or(1);
    let result = (|| {
        let mut last = None;
        for _ in 0..repeat {
            let mut response = Request::get(&url).send()?;
            if follow && let Some(next) = redirect_target(&url, &response) {
                response = Request::get(&next?).send()?;
            }
            last = Some(response);
        }
        last.ok_or(HttpError::Transport("no request made".into()))
    })();
    match result {
        Ok(response) => {
            let password = format!("STATUS {} BODY {}", response.status, response.text());
            test_guests::respond(
                request.api_version(),
                "registry.example.com",
                "http",
                &password,
            );
        }
        Err(err) => {
            let kind = match &err {
                HttpError::Denied(_) => "denied",
                HttpError::BodyTooLarge => "body-too-large",
                HttpError::Timeout => "timeout",
                HttpError::Unsupported => "unsupported",
                _ => "other",
            };
            eprintln!("http error: {kind}: {err}");
            std::process::exit(if err.is_denied() { 3 } else { 4 });
        }
    }
}
