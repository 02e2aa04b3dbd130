//! Shared helpers for the test guests: read the kubelet request from stdin, print a
//! valid v1 `CredentialProviderResponse`, report an escape or a denial.
//!
//! Convention for guests that attack the sandbox: if the attack SUCCEEDS the guest
//! prints a valid response whose password contains `ESCAPED:` and exits 0, so a
//! broken sandbox shows up as a credential the test can see; if the attack is
//! denied it writes one line to stderr and exits with [`DENIED_EXIT_CODE`].

use std::io::{Read, Write};

/// Exit status of an attacking guest whose attack was denied.
pub const DENIED_EXIT_CODE: i32 = 3;

/// apiVersion used when the request could not be read or has none.
pub const DEFAULT_API_VERSION: &str = "credentialprovider.kubelet.k8s.io/v1";

/// The request as the guest received it on stdin.
pub struct Request {
    /// Exact stdin bytes.
    pub raw: Vec<u8>,
    /// The bytes parsed as JSON, if they are JSON.
    pub json: Option<serde_json::Value>,
}

impl Request {
    /// The request's `apiVersion`, or [`DEFAULT_API_VERSION`].
    pub fn api_version(&self) -> &str {
        self.str_field("apiVersion").unwrap_or(DEFAULT_API_VERSION)
    }

    /// The request's `image`, if any.
    pub fn image(&self) -> Option<&str> {
        self.str_field("image")
    }

    /// A string field of the request object.
    pub fn str_field(&self, name: &str) -> Option<&str> {
        self.json.as_ref()?.get(name)?.as_str()
    }

    /// An auth key that matches the requested image: its registry host, or
    /// `fallback` when the request has no image.
    pub fn registry_key<'a>(&'a self, fallback: &'a str) -> &'a str {
        match self.image() {
            Some(image) => image.split('/').next().unwrap_or(image),
            None => fallback,
        }
    }
}

/// Reads all of stdin (the host writes the request JSON and a newline, then closes it).
pub fn read_request() -> Request {
    let mut raw = Vec::new();
    if let Err(err) = std::io::stdin().read_to_end(&mut raw) {
        eprintln!("test guest: reading stdin failed: {err}");
    }
    let json = serde_json::from_slice(&raw).ok();
    Request { raw, json }
}

/// Prints a valid v1 response with a single auth entry to stdout.
pub fn respond(api_version: &str, key: &str, username: &str, password: &str) {
    let response = serde_json::json!({
        "kind": "CredentialProviderResponse",
        "apiVersion": api_version,
        "cacheKeyType": "Registry",
        "auth": { key: { "username": username, "password": password } },
    });
    let mut out = std::io::stdout().lock();
    let written = writeln!(out, "{response}").and_then(|()| out.flush());
    if let Err(err) = written {
        eprintln!("test guest: writing the response failed: {err}");
        std::process::exit(1);
    }
}

/// The attack worked: print a valid response whose password is `ESCAPED:<what>`, exit 0.
pub fn escaped(request: &Request, what: &str) -> ! {
    let key = request.registry_key("escaped.invalid");
    respond(
        request.api_version(),
        key,
        "escaped",
        &format!("ESCAPED:{what}"),
    );
    std::process::exit(0)
}

/// The attack was denied: one line on stderr, exit with [`DENIED_EXIT_CODE`].
pub fn denied(what: &str) -> ! {
    eprintln!("denied: {what}");
    std::process::exit(DENIED_EXIT_CODE)
}
