//! A small blocking HTTP client for plugins.
//!
//! On `wasm32-wasip2` it speaks `wasi:http/outgoing-handler`: the host checks every request
//! against the operator's `--allow-http` list and refuses the rest with
//! [`HttpError::Denied`]. Natively (plugin unit tests) it speaks plain HTTP/1.1 through
//! hyper, `http://` only, so tests can run against a local server. On `wasm32-wasip1`
//! (a core module, which has no network) every request fails with [`HttpError::Unsupported`].
//!
//! Both network builds put the same bytes on the wire for the same request: `host`, then the
//! request's fields (names lowercased, in order), then `content-length` for a body of known
//! length (every body here has one), never chunked transfer coding. The SDK owns framing: a
//! `Content-Length` or `Transfer-Encoding` the plugin sets is replaced, and fields only the
//! transport may set (`host`, `connection`, ...) are refused with [`HttpError::InvalidHeader`].
//!
//! Redirects are not followed: a 3xx response is returned as is, and following it is a new
//! request, checked by the host again.
//!
//! ```no_run
//! use credential_provider_sdk::http::Request;
//!
//! let token: serde_json::Value = Request::post("https://sts.example.com/v1/token")
//!     .header("content-type", "application/json")
//!     .body(br#"{"audience":"registry"}"#.to_vec())
//!     .send()?
//!     .error_for_status()?
//!     .json()?;
//! # Ok::<(), credential_provider_sdk::http::HttpError>(())
//! ```

#[cfg(not(target_os = "wasi"))]
mod native;
#[cfg(all(target_os = "wasi", target_env = "p2"))]
mod wasi;

/// Why a request failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HttpError {
    /// The host's egress policy refused the request (not in `--allow-http`, a refused address,
    /// or the per-run request limit). The host logged an audit line naming the destination.
    Denied(String),
    /// The URL is not an absolute `http://` or `https://` URL.
    InvalidUrl(String),
    /// A header field the plugin may not set (`host`, `connection`, ...) or cannot be sent.
    InvalidHeader(String),
    /// The response body is larger than the host allows.
    BodyTooLarge,
    /// Connecting or waiting for the response took too long.
    Timeout,
    /// Another transport or protocol failure (DNS, connection, TLS, malformed response).
    Transport(String),
    /// The server answered with a status that is not 2xx ([`Response::error_for_status`]).
    Status(u16),
    /// The body is not the JSON expected ([`Response::json`]).
    Json(String),
    /// This build has no network: `wasm32-wasip1` core modules cannot make HTTP requests; build
    /// the plugin for `wasm32-wasip2`.
    Unsupported,
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HttpError::Denied(why) => write!(f, "request denied by the host's policy ({why})"),
            HttpError::InvalidUrl(why) => write!(f, "invalid URL: {why}"),
            HttpError::InvalidHeader(why) => write!(f, "invalid header: {why}"),
            HttpError::BodyTooLarge => write!(f, "response body exceeds the host's limit"),
            HttpError::Timeout => write!(f, "request timed out"),
            HttpError::Transport(why) => write!(f, "request failed: {why}"),
            HttpError::Status(code) => write!(f, "server answered with status {code}"),
            HttpError::Json(why) => write!(f, "response is not the expected JSON: {why}"),
            HttpError::Unsupported => {
                write!(
                    f,
                    "HTTP needs a wasm32-wasip2 component (this is a core module)"
                )
            }
        }
    }
}

impl std::error::Error for HttpError {}

impl HttpError {
    /// Whether the host's policy refused the request.
    pub fn is_denied(&self) -> bool {
        matches!(self, HttpError::Denied(_))
    }
}

/// An HTTP request to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The method (`GET`, `POST`, ...).
    pub method: String,
    /// The absolute URL.
    pub url: String,
    /// Header fields, in order.
    pub headers: Vec<(String, String)>,
    /// The body (empty for none).
    pub body: Vec<u8>,
}

impl Request {
    /// A request with `method` to `url`, no headers and no body.
    pub fn new(method: &str, url: &str) -> Self {
        Request {
            method: method.to_owned(),
            url: url.to_owned(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// A `GET` request.
    pub fn get(url: &str) -> Self {
        Request::new("GET", url)
    }

    /// A `POST` request.
    pub fn post(url: &str) -> Self {
        Request::new("POST", url)
    }

    /// Adds a header field.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Sends the request and reads the whole response.
    pub fn send(self) -> Result<Response, HttpError> {
        let target = Target::parse(&self.url)?;
        send(&self, &target)
    }
}

/// What sends a plugin's requests: [`Network`] in the plugin, a scripted fake in its unit
/// tests, so the plugin's logic is tested without a server.
pub trait Transport {
    /// Sends `request` and reads the whole response.
    fn send(&self, request: Request) -> Result<Response, HttpError>;
}

/// The real client: [`Request::send`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Network;

impl Transport for Network {
    fn send(&self, request: Request) -> Result<Response, HttpError> {
        request.send()
    }
}

/// `GET url`.
pub fn get(url: &str) -> Result<Response, HttpError> {
    Request::get(url).send()
}

/// A response, read whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Header fields, names lowercased.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body decoded as JSON. The error says where the body differs, never what it holds.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, HttpError> {
        serde_json::from_slice(&self.body)
            .map_err(|e| HttpError::Json(crate::describe_json_error(&e)))
    }

    /// `self` if the status is 2xx, else [`HttpError::Status`].
    pub fn error_for_status(self) -> Result<Self, HttpError> {
        if (200..300).contains(&self.status) {
            Ok(self)
        } else {
            Err(HttpError::Status(self.status))
        }
    }
}

/// Where a request goes, as both transports put it on the wire: the scheme, the `host` field
/// (`host[:port]`, the port only when it is not the scheme's default) and the request target
/// (path and query, percent-encoded as the URL standard says, at least `/`).
///
/// A signature over the request (SigV4) must cover exactly these values; take them from here
/// rather than from the URL text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `https://` rather than `http://`.
    pub https: bool,
    /// The `host` header field: `host[:port]`, IPv6 literals in brackets.
    pub authority: String,
    /// Path and query, at least `/`.
    pub path_and_query: String,
}

impl Target {
    /// Parses an absolute `http://` or `https://` URL (the `url` crate, WHATWG rules); user
    /// info is refused and a fragment dropped.
    pub fn parse(url: &str) -> Result<Target, HttpError> {
        let invalid = |why: &str| HttpError::InvalidUrl(why.to_owned());
        let parsed = url::Url::parse(url).map_err(|e| HttpError::InvalidUrl(e.to_string()))?;
        let https = match parsed.scheme() {
            "https" => true,
            "http" => false,
            _ => return Err(invalid("scheme must be http or https")),
        };
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(invalid("user information in the URL"));
        }
        let host = parsed.host_str().ok_or_else(|| invalid("no host"))?;
        let authority = match parsed.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        };
        let path_and_query = match parsed.query() {
            Some(query) => format!("{}?{query}", parsed.path()),
            None => parsed.path().to_owned(),
        };
        Ok(Target {
            https,
            authority,
            path_and_query,
        })
    }
}

/// The URL a redirect response points to (`Location`, absolute or relative), resolved against
/// the request's URL; `None` if `response` is not a redirect.
pub fn redirect_target(
    request_url: &str,
    response: &Response,
) -> Option<Result<String, HttpError>> {
    if !matches!(response.status, 301 | 302 | 303 | 307 | 308) {
        return None;
    }
    let location = response.header("location")?;
    Some(
        url::Url::parse(request_url)
            .and_then(|base| base.join(location))
            .map(String::from)
            .map_err(|e| HttpError::InvalidUrl(format!("Location: {e}"))),
    )
}

/// The `Content-Length` a request is sent with: its body's length when it has a body or its
/// method defines one (`POST`, `PUT`, `PATCH`), none for a bodiless `GET`, `HEAD`, `DELETE`,
/// `OPTIONS` (RFC 9110, 8.6). This is Go's `net/http` rule (`shouldSendContentLength`), which
/// the vendors' plugins send with. Without a length the request has no body at all: never
/// chunked transfer coding, which some front ends refuse (`411 Length Required`) and others
/// read as an empty body.
fn content_length(request: &Request) -> Option<usize> {
    let has_body_semantics = matches!(
        request.method.to_ascii_uppercase().as_str(),
        "POST" | "PUT" | "PATCH"
    );
    (has_body_semantics || !request.body.is_empty()).then_some(request.body.len())
}

/// Header fields only the transport sets (wasmtime-wasi-http's `DEFAULT_FORBIDDEN_HEADERS`,
/// less the two framing fields, which [`wire_fields`] replaces): refused on every build, so a
/// request that works natively works under the host.
const TRANSPORT_FIELDS: [&str; 7] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "upgrade",
    "host",
];

/// The header fields a request goes out with after `host` (which both transports put first):
/// the request's own fields, names lowercased, in order, less any `content-length` or
/// `transfer-encoding` (the SDK frames the body), then `content-length` when
/// [`content_length`] gives one. Both transports send exactly these, in this order.
fn wire_fields(request: &Request) -> Result<Vec<(String, String)>, HttpError> {
    let mut fields = Vec::with_capacity(request.headers.len() + 1);
    for (name, value) in &request.headers {
        let name = name.to_ascii_lowercase();
        if TRANSPORT_FIELDS.contains(&name.as_str()) {
            return Err(HttpError::InvalidHeader(format!(
                "{name} is set by the transport, not the plugin"
            )));
        }
        if name != "content-length" && name != "transfer-encoding" {
            fields.push((name, value.clone()));
        }
    }
    if let Some(length) = content_length(request) {
        fields.push(("content-length".to_owned(), length.to_string()));
    }
    Ok(fields)
}

#[cfg(all(target_os = "wasi", target_env = "p2"))]
fn send(request: &Request, target: &Target) -> Result<Response, HttpError> {
    wasi::send(request, target)
}

#[cfg(not(target_os = "wasi"))]
fn send(request: &Request, target: &Target) -> Result<Response, HttpError> {
    native::send(request, target)
}

#[cfg(all(target_os = "wasi", not(target_env = "p2")))]
fn send(request: &Request, _target: &Target) -> Result<Response, HttpError> {
    // The same checks as the network builds, so a request is refused the same way everywhere.
    wire_fields(request)?;
    Err(HttpError::Unsupported)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_what_goes_on_the_wire() {
        let t = Target::parse("https://h.example:8443/a/b?x=1#frag").unwrap();
        assert!(t.https);
        assert_eq!(t.authority, "h.example:8443");
        assert_eq!(t.path_and_query, "/a/b?x=1");
        assert_eq!(Target::parse("http://h?q").unwrap().path_and_query, "/?q");
        // The scheme's default port is not part of `host`; names are lowercased; the path is
        // percent-encoded and dot segments resolved.
        let t = Target::parse("HTTPS://API.Example:443/a b/../c").unwrap();
        assert_eq!(
            (t.authority.as_str(), t.path_and_query.as_str()),
            ("api.example", "/c")
        );
        assert_eq!(
            Target::parse("http://[::1]:81/").unwrap().authority,
            "[::1]:81"
        );
        for bad in [
            "ftp://h/",
            "h/x",
            "http://u@h/",
            "http://u:p@h/",
            "http://:80/",
            "",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn redirects_resolve() {
        let redirect = |location: &str| Response {
            status: 302,
            headers: vec![("location".into(), location.into())],
            body: Vec::new(),
        };
        let base = "http://a.example:81/x/y";
        assert_eq!(
            redirect_target(base, &redirect("/next")).unwrap().unwrap(),
            "http://a.example:81/next"
        );
        assert_eq!(
            redirect_target(base, &redirect("z?q=1")).unwrap().unwrap(),
            "http://a.example:81/x/z?q=1"
        );
        assert_eq!(
            redirect_target(base, &redirect("https://b.example/"))
                .unwrap()
                .unwrap(),
            "https://b.example/"
        );
        let ok = Response {
            status: 200,
            ..redirect("/next")
        };
        assert!(redirect_target(base, &ok).is_none());
    }

    fn fields(method: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<(String, String)> {
        let mut request = Request::new(method, "http://h/").body(body.to_vec());
        for (n, v) in headers {
            request = request.header(n, v);
        }
        wire_fields(&request).unwrap()
    }

    #[test]
    fn bodies_are_framed_with_content_length_only() {
        let cl = |n: &str| ("content-length".to_owned(), n.to_owned());
        assert_eq!(fields("POST", &[], b"{}"), [cl("2")]);
        assert_eq!(fields("post", &[], b""), [cl("0")]);
        assert_eq!(fields("PUT", &[], b""), [cl("0")]);
        assert_eq!(fields("DELETE", &[], b"x"), [cl("1")]);
        for bodiless in ["GET", "HEAD", "DELETE", "OPTIONS"] {
            assert_eq!(fields(bodiless, &[], b""), [], "{bodiless}");
        }
        // The plugin's own framing fields are replaced, its other fields kept in order with
        // their names lowercased.
        assert_eq!(
            fields(
                "POST",
                &[
                    ("Content-Type", "a/b"),
                    ("Transfer-Encoding", "chunked"),
                    ("Content-Length", "99"),
                    ("X-Amz-Target", "T"),
                ],
                b"abc"
            ),
            [
                ("content-type".to_owned(), "a/b".to_owned()),
                ("x-amz-target".to_owned(), "T".to_owned()),
                cl("3")
            ]
        );
    }

    #[test]
    fn transport_fields_are_refused() {
        for name in ["Host", "connection", "Upgrade", "proxy-authorization"] {
            let request = Request::get("http://h/").header(name, "x");
            assert!(
                matches!(wire_fields(&request), Err(HttpError::InvalidHeader(_))),
                "{name}"
            );
        }
    }
}
