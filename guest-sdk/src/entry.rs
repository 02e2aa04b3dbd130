//! The plugin's `main`: read the request, call the plugin, write the response, map errors to exit codes.

use std::fmt::Display;
use std::io::{Read, Write};
use std::process::ExitCode;

use credential_provider_protocol::{Request, Response};

/// Largest request read from stdin. A kubelet request is an image name and perhaps a
/// service-account token: a few KiB at most.
pub const MAX_REQUEST_BYTES: u64 = 1024 * 1024;

/// Runs a plugin: reads the request from stdin, calls `provide`, prints the response on stdout.
///
/// On any error (unreadable or invalid request, or `provide` failing) it writes one line to
/// stderr and returns a failing exit code, so the kubelet (or the host) discards the attempt.
/// Nothing but the response is ever written to stdout.
pub fn run<E, F>(provide: F) -> ExitCode
where
    E: Display,
    F: FnOnce(&Request) -> Result<Response, E>,
{
    let mut input = Vec::new();
    let read = std::io::stdin()
        .take(MAX_REQUEST_BYTES + 1)
        .read_to_end(&mut input);
    let outcome = match read {
        Err(err) => Err(format!("reading the request from stdin: {err}")),
        Ok(_) if input.len() as u64 > MAX_REQUEST_BYTES => Err(format!(
            "request on stdin is larger than {MAX_REQUEST_BYTES} bytes"
        )),
        Ok(_) => handle(&input, provide),
    };
    match outcome {
        Ok(json) => {
            let mut stdout = std::io::stdout().lock();
            match writeln!(stdout, "{json}").and_then(|()| stdout.flush()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(err) => {
                    eprintln!("error: writing the response: {err}");
                    ExitCode::FAILURE
                }
            }
        }
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The pure part of [`run`]: decodes `input` strictly, calls `provide`, and returns the response
/// JSON (without newline), or the error line. Plugin unit tests can call it directly.
pub fn handle<E, F>(input: &[u8], provide: F) -> Result<String, String>
where
    E: Display,
    F: FnOnce(&Request) -> Result<Response, E>,
{
    let request = Request::decode(input).map_err(|err| format!("invalid request: {err}"))?;
    let response = provide(&request).map_err(|err| err.to_string())?;
    if response.api_version != request.api_version {
        return Err(format!(
            "the plugin answered in {} but the request is {}; the kubelet would discard it",
            response.api_version, request.api_version
        ));
    }
    Ok(response.to_json())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ApiVersion, CacheKeyType, ResponseBuilder};

    const REQUEST: &[u8] = b"{\"kind\":\"CredentialProviderRequest\",\"apiVersion\":\"credentialprovider.kubelet.k8s.io/v1beta1\",\"image\":\"r.io/a\"}\n";

    #[test]
    fn handle_answers_in_the_request_version() {
        let json = handle(REQUEST, |r: &Request| -> Result<_, String> {
            Ok(ResponseBuilder::new(r).credential("r.io", "u", "p").build())
        })
        .unwrap();
        assert!(json.contains("\"apiVersion\":\"credentialprovider.kubelet.k8s.io/v1beta1\""));
        assert!(json.contains("\"r.io\":{\"username\":\"u\",\"password\":\"p\"}"));
    }

    #[test]
    fn handle_refuses_a_version_mismatch() {
        let err = handle(REQUEST, |_: &Request| -> Result<_, String> {
            Ok(Response::new(ApiVersion::V1, CacheKeyType::Image))
        })
        .unwrap_err();
        assert!(err.contains("discard"), "{err}");
    }

    #[test]
    fn handle_reports_plugin_errors_and_bad_requests() {
        assert_eq!(
            handle(REQUEST, |_: &Request| Err::<Response, _>("no creds")).unwrap_err(),
            "no creds"
        );
        assert!(
            handle(b"{}", |_: &Request| Err::<Response, _>("x"))
                .unwrap_err()
                .starts_with("invalid request")
        );
    }
}
