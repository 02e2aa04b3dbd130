//! A small blocking HTTP client for plugins.
//!
//! On `wasm32-wasip2` it speaks `wasi:http/outgoing-handler`: the host checks every request
//! against the operator's `--allow-http` list and refuses the rest with
//! [`HttpError::Denied`]. Natively (plugin unit tests) it speaks plain HTTP/1.1 over
//! `std::net`, `http://` only, so tests can run against a local server. On `wasm32-wasip1`
//! (a core module, which has no network) every request fails with [`HttpError::Unsupported`].
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
        let url = Url::parse(&self.url)?;
        send(&self, &url)
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

/// An absolute URL split the way requests need it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Url {
    https: bool,
    /// `host[:port]` as written.
    authority: String,
    /// Path and query, at least `/`.
    path_and_query: String,
}

impl Url {
    fn parse(url: &str) -> Result<Url, HttpError> {
        let invalid = |why: &str| HttpError::InvalidUrl(why.to_owned());
        let (scheme, rest) = url.split_once("://").ok_or_else(|| invalid("no scheme"))?;
        let https = match scheme.to_ascii_lowercase().as_str() {
            "https" => true,
            "http" => false,
            _ => return Err(invalid("scheme must be http or https")),
        };
        let rest = rest.split('#').next().unwrap_or(rest);
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(end);
        if authority.is_empty() || authority.contains('@') {
            return Err(invalid("bad host"));
        }
        let path_and_query = match path {
            "" => "/".to_owned(),
            p if p.starts_with('?') => format!("/{p}"),
            p => p.to_owned(),
        };
        Ok(Url {
            https,
            authority: authority.to_owned(),
            path_and_query,
        })
    }

    /// Resolves a `Location` header against this URL (absolute, or absolute-path).
    fn join(&self, location: &str) -> Result<String, HttpError> {
        if location.contains("://") {
            return Ok(location.to_owned());
        }
        if location.starts_with('/') {
            let scheme = if self.https { "https" } else { "http" };
            return Ok(format!("{scheme}://{}{location}", self.authority));
        }
        Err(HttpError::InvalidUrl("relative Location".into()))
    }
}

/// The URL a redirect response points to (absolute or absolute-path `Location`), resolved
/// against the request's URL; `None` if `response` is not a redirect.
pub fn redirect_target(
    request_url: &str,
    response: &Response,
) -> Option<Result<String, HttpError>> {
    if !matches!(response.status, 301 | 302 | 303 | 307 | 308) {
        return None;
    }
    let location = response.header("location")?;
    Some(Url::parse(request_url).and_then(|u| u.join(location)))
}

/// The `Content-Length` a request is sent with: its body's length when it has a body or its
/// method defines one (`POST`, `PUT`, `PATCH`), none for a bodiless `GET`, `HEAD`, `DELETE` or
/// `OPTIONS` (RFC 9110, 8.6).
#[cfg_attr(
    not(all(target_os = "wasi", target_env = "p2")),
    allow(
        dead_code,
        reason = "only the wasi:http transport frames bodies itself"
    )
)]
fn content_length(request: &Request) -> Option<usize> {
    let has_body_semantics = matches!(
        request.method.to_ascii_uppercase().as_str(),
        "POST" | "PUT" | "PATCH"
    );
    (has_body_semantics || !request.body.is_empty()).then_some(request.body.len())
}

#[cfg(all(target_os = "wasi", target_env = "p2"))]
fn send(request: &Request, url: &Url) -> Result<Response, HttpError> {
    wasi::send(request, url)
}

#[cfg(not(target_os = "wasi"))]
fn send(request: &Request, url: &Url) -> Result<Response, HttpError> {
    native::send(request, url)
}

#[cfg(all(target_os = "wasi", not(target_env = "p2")))]
fn send(_request: &Request, _url: &Url) -> Result<Response, HttpError> {
    Err(HttpError::Unsupported)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split() {
        let u = Url::parse("https://h.example:8443/a/b?x=1#frag").unwrap();
        assert!(u.https);
        assert_eq!(u.authority, "h.example:8443");
        assert_eq!(u.path_and_query, "/a/b?x=1");
        assert_eq!(Url::parse("http://h?q").unwrap().path_and_query, "/?q");
        assert!(Url::parse("ftp://h/").is_err());
        assert!(Url::parse("h/x").is_err());
        assert!(Url::parse("http://u@h/").is_err());
    }

    #[test]
    fn redirects_resolve() {
        let r = Response {
            status: 302,
            headers: vec![("location".into(), "/next".into())],
            body: Vec::new(),
        };
        assert_eq!(
            redirect_target("http://a.example:81/x", &r)
                .unwrap()
                .unwrap(),
            "http://a.example:81/next"
        );
    }
}
