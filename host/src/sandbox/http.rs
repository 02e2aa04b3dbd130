//! The `wasi:http/outgoing-handler` hook: every request a guest sends is checked against the
//! operator's egress policy, then sent by the host's own connector.
//!
//! The connector resolves names in the host, drops addresses the policy refuses (loopback,
//! private, link-local, ... unless explicitly permitted), connects to a checked address, does TLS
//! with rustls (the node's trust store plus `--ca-file`, SNI and hostname verification on the
//! name the guest asked for), and bounds connect, first byte, request and response bodies.
//! `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY` from the host's environment are honoured; the policy
//! applies to the origin the guest asked for, never to the proxy. Redirects are never followed
//! here: the guest re-issues, and the new request is checked again.

use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

use super::audit::Audit;
use crate::limits::{
    DEFAULT_HTTP_MAX_REQUESTS, DEFAULT_HTTP_MAX_RESPONSE_BYTES, HTTP_CONNECT_TIMEOUT,
    HTTP_FIRST_BYTE_TIMEOUT, HTTP_MAX_REQUEST_BODY_BYTES,
};
use crate::policy::egress::{Destination, EgressPolicy, Scheme, canonical, special_range};

/// What the operator grants a guest on the network. The default denies every request.
#[derive(Clone, Debug)]
pub struct HttpGrant {
    /// Allowed origins and `--resolve` overrides.
    pub policy: EgressPolicy,
    /// Extra trust anchors (`--ca-file`), on top of the node's store.
    pub extra_roots: Vec<CertificateDer<'static>>,
    /// The host's proxy settings.
    pub proxy: ProxyEnv,
    /// Cap on each response body.
    pub max_response_bytes: u64,
    /// Cap on requests per run.
    pub max_requests: u32,
}

impl Default for HttpGrant {
    fn default() -> Self {
        HttpGrant {
            policy: EgressPolicy::default(),
            extra_roots: Vec::new(),
            proxy: ProxyEnv::default(),
            max_response_bytes: DEFAULT_HTTP_MAX_RESPONSE_BYTES,
            max_requests: DEFAULT_HTTP_MAX_REQUESTS,
        }
    }
}

/// An HTTP proxy's address, from `HTTP_PROXY` or `HTTPS_PROXY`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proxy {
    /// Host name or IP literal (no brackets).
    pub host: String,
    /// Port (default 80).
    pub port: u16,
}

/// The proxy settings of the host's own environment. A proxy value this host cannot use (a
/// `socks5://` URL, credentials in the URL) is kept as its error and fails only the requests
/// that would go through it: a provider that sends no HTTP runs as if it were unset.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProxyEnv {
    /// Proxy for `http://` origins, or why the value cannot be used.
    pub http: Option<Result<Proxy, String>>,
    /// Proxy for `https://` origins (reached with `CONNECT`), or why the value cannot be used.
    pub https: Option<Result<Proxy, String>>,
    /// `NO_PROXY` as given: hosts that bypass the proxy, with curl's rules.
    pub no_proxy: String,
}

impl ProxyEnv {
    /// Reads `HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY` (or their lowercase forms) via `var`.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Self {
        let get = |name: &str| {
            var(name)
                .or_else(|| var(&name.to_ascii_lowercase()))
                .filter(|v| !v.trim().is_empty())
        };
        let parse = |name: &str| {
            get(name).map(|v| parse_proxy(v.trim()).map_err(|e| format!("{name}: {e}")))
        };
        ProxyEnv {
            http: parse("HTTP_PROXY"),
            https: parse("HTTPS_PROXY"),
            no_proxy: get("NO_PROXY").unwrap_or_default(),
        }
    }

    /// Why a proxy value cannot be used, for each that cannot (to warn about before any run).
    pub fn problems(&self) -> Vec<&str> {
        [&self.http, &self.https]
            .into_iter()
            .filter_map(|p| p.as_ref()?.as_ref().err().map(String::as_str))
            .collect()
    }

    /// The proxy to use for `dest`, if any; an error if it would be an unusable one.
    fn for_destination(&self, dest: &Destination) -> Result<Option<&Proxy>, &str> {
        let proxy = match dest.scheme {
            Scheme::Http => self.http.as_ref(),
            Scheme::Https => self.https.as_ref(),
        };
        let Some(proxy) = proxy else {
            return Ok(None);
        };
        if self.bypasses(dest) {
            return Ok(None);
        }
        proxy.as_ref().map(Some).map_err(String::as_str)
    }

    /// Whether `NO_PROXY` exempts `dest`'s host: curl's rules (`*`, a domain and its
    /// subdomains with or without a leading dot, IP addresses and CIDR blocks, IPv6 included),
    /// as hyper-util's proxy matcher implements them. The matcher is asked with placeholder
    /// proxies: only its `NO_PROXY` verdict is used, the proxy values are parsed (strictly)
    /// above.
    fn bypasses(&self, dest: &Destination) -> bool {
        if self.no_proxy.trim().is_empty() {
            return false;
        }
        // curl: `*` exempts every host; the matcher applies it to names only, not to IPs.
        if self.no_proxy.split(',').any(|entry| entry.trim() == "*") {
            return true;
        }
        let matcher = hyper_util::client::proxy::matcher::Matcher::builder()
            .all(String::from("http://proxy.invalid"))
            .no(self.no_proxy.clone())
            .build();
        let host = dest.host.strip_suffix('.').unwrap_or(&dest.host);
        let authority = if host.contains(':') {
            format!("[{host}]")
        } else {
            host.to_owned()
        };
        match format!("{}://{authority}/", dest.scheme.as_str()).parse::<http::Uri>() {
            Ok(uri) => matcher.intercept(&uri).is_none(),
            Err(_) => false,
        }
    }
}

fn parse_proxy(value: &str) -> Result<Proxy, &'static str> {
    let rest = match value.split_once("://") {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => rest,
        Some(_) => return Err("only http:// proxies are supported"),
        None => value,
    };
    let authority = rest.split('/').next().unwrap_or(rest);
    if authority.contains('@') {
        return Err("proxy credentials in the URL are not supported");
    }
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => {
            let (host, after) = v6.split_once(']').ok_or("missing ']'")?;
            (host, after.strip_prefix(':'))
        }
        None => match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        },
    };
    let port = match port {
        Some(p) => p.parse::<u16>().map_err(|_| "invalid port")?,
        None => 80,
    };
    if host.is_empty() {
        return Err("no host");
    }
    Ok(Proxy {
        host: host.to_ascii_lowercase(),
        port,
    })
}

/// The per-run hook state: the policy, counters and the audit log.
pub struct EgressHooks {
    shared: Arc<Shared>,
    requests: u32,
}

struct Shared {
    grant: HttpGrant,
    deadline: Instant,
    audit: Arc<Audit>,
    tls: OnceLock<Result<Arc<rustls::ClientConfig>, String>>,
}

impl EgressHooks {
    /// Hooks for one run that must be over by `deadline`; refusals are appended to `audit`.
    pub fn new(grant: HttpGrant, deadline: Instant, audit: Arc<Audit>) -> Self {
        EgressHooks {
            shared: Arc::new(Shared {
                grant,
                deadline,
                audit,
                tls: OnceLock::new(),
            }),
            requests: 0,
        }
    }
}

type ResponseFuture = Box<
    dyn Future<
            Output = Result<
                (
                    http::Response<WasiBody>,
                    Box<dyn Future<Output = Result<(), HttpError>> + Send>,
                ),
                HttpError,
            >,
        > + Send,
>;

impl WasiHttpHooks for EgressHooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ) -> ResponseFuture {
        let shared = self.shared.clone();
        // Every request counts, allowed or not: a guest must not make the host do (and log)
        // unbounded work by asking for what it will be refused.
        self.requests = self.requests.saturating_add(1);
        let dest = destination(request.uri());
        if self.requests > shared.grant.max_requests {
            if self.requests == shared.grant.max_requests.saturating_add(1) {
                let what = dest.map_or_else(|| "a request".to_owned(), |d| d.to_string());
                shared.refuse(format!(
                    "{what} (more than {} requests in one run: this and every further request \
                     is refused)",
                    shared.grant.max_requests
                ));
            }
            return Box::new(async { Err(HttpError::ConnectionLimitReached) });
        }
        let Some(dest) = dest else {
            shared.refuse("a request without a valid absolute URL".into());
            return Box::new(async { Err(HttpError::HttpRequestUriInvalid) });
        };
        if !shared.grant.policy.allows(&dest) {
            shared.refuse(format!("{dest} (not allowed by --allow-http)"));
            return Box::new(async { Err(HttpError::HttpRequestDenied) });
        }
        Box::new(async move {
            shared
                .send(dest, request, options.unwrap_or_default())
                .await
        })
    }
}

/// The checked form of a request's URI, or `None` if it is not an absolute http(s) URL.
fn destination(uri: &http::Uri) -> Option<Destination> {
    let scheme = match uri.scheme_str()? {
        s if s.eq_ignore_ascii_case("https") => Scheme::Https,
        s if s.eq_ignore_ascii_case("http") => Scheme::Http,
        _ => return None,
    };
    let authority = uri.authority()?;
    if authority.as_str().contains('@') {
        return None;
    }
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    if host.is_empty() {
        return None;
    }
    Some(Destination {
        scheme,
        host,
        port: authority.port_u16().unwrap_or(scheme.default_port()),
        path: match uri.path() {
            "" => "/".into(),
            p => p.into(),
        },
    })
}

/// Either a TCP stream or TLS over one.
trait Stream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin> Stream for T {}

impl Shared {
    fn refuse(&self, what: String) {
        self.audit.record(format!("egress denied: {what}"));
    }

    fn remaining(&self) -> Result<Duration, HttpError> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            Err(HttpError::ConnectionTimeout)
        } else {
            Ok(left)
        }
    }

    async fn send(
        self: Arc<Self>,
        dest: Destination,
        request: http::Request<WasiBody>,
        options: RequestOptions,
    ) -> Result<
        (
            http::Response<WasiBody>,
            Box<dyn Future<Output = Result<(), HttpError>> + Send>,
        ),
        HttpError,
    > {
        let connect_timeout =
            bound(options.connect_timeout, HTTP_CONNECT_TIMEOUT).min(self.remaining()?);
        let proxy = match self.grant.proxy.for_destination(&dest) {
            Ok(proxy) => proxy.cloned(),
            Err(unusable) => {
                self.refuse(format!("{dest} (the proxy is unusable: {unusable})"));
                return Err(HttpError::InternalError(Some(format!(
                    "the host's proxy setting is unusable: {unusable}"
                ))));
            }
        };
        let connected = tokio::time::timeout(connect_timeout, async {
            let tcp = match &proxy {
                Some(proxy) => connect_proxy(proxy, &dest).await?,
                None => self.connect_direct(&dest).await?,
            };
            let stream: Box<dyn Stream> = match dest.scheme {
                Scheme::Http => Box::new(tcp),
                Scheme::Https => Box::new(self.tls_connect(&dest, tcp).await?),
            };
            Ok::<_, HttpError>(stream)
        })
        .await
        .map_err(|_| HttpError::ConnectionTimeout)??;

        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(connected))
                .await
                .map_err(HttpError::Hyper)?;
        let (mut parts, body) = request.into_parts();
        // Origin-form on a direct connection or a CONNECT tunnel; absolute-form to an HTTP proxy.
        if !(proxy.is_some() && dest.scheme == Scheme::Http) {
            let path = parts
                .uri
                .path_and_query()
                .map_or("/", |p| p.as_str())
                .to_owned();
            parts.uri = path.parse().map_err(|_| HttpError::HttpRequestUriInvalid)?;
        }
        let body = CappedBody::new(body, HTTP_MAX_REQUEST_BODY_BYTES, Side::Request).boxed_unsync();
        let request = http::Request::from_parts(parts, body);

        let first_byte =
            bound(options.first_byte_timeout, HTTP_FIRST_BYTE_TIMEOUT).min(self.remaining()?);
        let worker = tokio::spawn(conn);
        let response = tokio::time::timeout(first_byte, sender.send_request(request))
            .await
            .map_err(|_| HttpError::HttpResponseTimeout)?
            .map_err(HttpError::Hyper)?;
        let cap = self.grant.max_response_bytes;
        let declared = response
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > cap) {
            return Err(HttpError::HttpResponseBodySize(declared));
        }
        let response = response.map(|body| {
            CappedBody::new(body.map_err(HttpError::Hyper), cap, Side::Response).boxed_unsync()
        });
        let io = async move {
            match worker.await {
                Ok(result) => result.map_err(HttpError::Hyper),
                Err(_) => Err(HttpError::ConnectionTerminated),
            }
        };
        Ok((response, Box::new(io)))
    }

    /// Resolves `dest` in the host (or takes its `--resolve` address), drops refused addresses,
    /// and connects to the first allowed one that answers.
    async fn connect_direct(&self, dest: &Destination) -> Result<TcpStream, HttpError> {
        // Every address in its canonical form: the one checked is the one connected to.
        let addrs: Vec<IpAddr> = match self.grant.policy.override_for(&dest.host, dest.port) {
            Some(addr) => vec![canonical(addr)],
            None => match dest.host.parse::<IpAddr>() {
                Ok(ip) => vec![canonical(ip)],
                Err(_) => tokio::net::lookup_host((dest.host.as_str(), dest.port))
                    .await
                    .map_err(|_| HttpError::DnsError {
                        rcode: Some("lookup failed".into()),
                        info_code: None,
                    })?
                    .map(|a| canonical(a.ip()))
                    .collect(),
            },
        };
        let (allowed, refused): (Vec<IpAddr>, Vec<IpAddr>) = addrs
            .into_iter()
            .partition(|addr| self.grant.policy.address_allowed(dest, *addr));
        if allowed.is_empty() {
            if let Some(addr) = refused.first() {
                let range =
                    special_range(*addr).map_or_else(|| "special".to_owned(), |r| r.to_string());
                self.refuse(format!(
                    "{dest} (resolves to {range} address {addr}; permit it with an IP-literal \
                     --allow-http or --resolve)"
                ));
                return Err(HttpError::DestinationIpProhibited);
            }
            return Err(HttpError::DestinationNotFound);
        }
        let mut last = HttpError::ConnectionRefused;
        for addr in allowed {
            match TcpStream::connect(SocketAddr::new(addr, dest.port)).await {
                // The address connected to is the one checked: no second resolution happens.
                Ok(stream) => return Ok(stream),
                Err(e) => last = HttpError::Connect(e),
            }
        }
        Err(last)
    }

    async fn tls_connect(
        &self,
        dest: &Destination,
        tcp: TcpStream,
    ) -> Result<tokio_rustls::client::TlsStream<TcpStream>, HttpError> {
        let config = self
            .tls
            .get_or_init(|| tls_config(&self.grant.extra_roots))
            .clone()
            .map_err(|_| HttpError::TlsCertificateError)?;
        let name = ServerName::try_from(dest.host.clone())
            .map_err(|_| HttpError::HttpRequestUriInvalid)?;
        tokio_rustls::TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .map_err(|e| {
                if e.get_ref()
                    .and_then(|inner| inner.downcast_ref::<rustls::Error>())
                    .is_some_and(|r| matches!(r, rustls::Error::InvalidCertificate(_)))
                {
                    HttpError::TlsCertificateError
                } else {
                    HttpError::Tls(e)
                }
            })
    }
}

fn bound(asked: Option<Duration>, default: Duration) -> Duration {
    asked.map_or(default, |d| d.min(default))
}

/// The node's trust store plus the operator's extra roots. Hostname verification is rustls's
/// default and cannot be switched off here.
fn tls_config(extra: &[CertificateDer<'static>]) -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    let (_added, _ignored) = roots.add_parsable_certificates(native.certs);
    for cert in extra {
        roots
            .add(cert.clone())
            .map_err(|e| format!("--ca-file: {e}"))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Connects to `proxy` and, for an `https` origin, opens a `CONNECT` tunnel to it.
async fn connect_proxy(proxy: &Proxy, dest: &Destination) -> Result<TcpStream, HttpError> {
    let mut stream = TcpStream::connect((proxy.host.as_str(), proxy.port))
        .await
        .map_err(HttpError::Connect)?;
    if dest.scheme == Scheme::Http {
        return Ok(stream);
    }
    let target = if dest.host.contains(':') {
        format!("[{}]:{}", dest.host, dest.port)
    } else {
        format!("{}:{}", dest.host, dest.port)
    };
    let head = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n");
    stream
        .write_all(head.as_bytes())
        .await
        .map_err(HttpError::Connect)?;
    // Read the proxy's answer head byte by byte so no tunnelled byte is consumed.
    let mut answer = Vec::new();
    while !answer.ends_with(b"\r\n\r\n") {
        if answer.len() > 8 * 1024 {
            return Err(HttpError::HttpProtocolError);
        }
        let byte = stream.read_u8().await.map_err(HttpError::Connect)?;
        answer.push(byte);
    }
    let status_ok = answer
        .split(|b| *b == b' ')
        .nth(1)
        .is_some_and(|code| code.starts_with(b"2"));
    if status_ok {
        Ok(stream)
    } else {
        Err(HttpError::DestinationUnavailable)
    }
}

#[derive(Clone, Copy)]
enum Side {
    Request,
    Response,
}

/// A body that fails once more than `cap` bytes have passed, checked as they stream.
struct CappedBody<B> {
    inner: B,
    seen: u64,
    cap: u64,
    side: Side,
}

impl<B> CappedBody<B> {
    fn new(inner: B, cap: u64, side: Side) -> Self {
        CappedBody {
            inner,
            seen: 0,
            cap,
            side,
        }
    }
}

impl<B> Body for CappedBody<B>
where
    B: Body<Data = Bytes, Error = HttpError> + Unpin,
{
    type Data = Bytes;
    type Error = HttpError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, HttpError>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            self.seen = self.seen.saturating_add(data.len() as u64);
            if self.seen > self.cap {
                let size = Some(self.seen);
                return Poll::Ready(Some(Err(match self.side {
                    Side::Request => HttpError::HttpRequestBodySize(size),
                    Side::Response => HttpError::HttpResponseBodySize(size),
                })));
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_drop_queries_and_default_ports() {
        let d = destination(
            &"https://Registry.Example.com/v2/token?secret=x"
                .parse()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(d.to_string(), "https://registry.example.com:443/v2/token");
        let d = destination(&"http://[::1]:8080".parse().unwrap()).unwrap();
        assert_eq!(d.to_string(), "http://[::1]:8080/");
        assert!(destination(&"/relative".parse().unwrap()).is_none());
        assert!(destination(&"https://user@host/".parse().unwrap()).is_none());
    }

    #[test]
    fn proxy_environment() {
        let env = ProxyEnv::from_vars(|name| match name {
            "HTTPS_PROXY" => Some("http://proxy.corp:3128".into()),
            "no_proxy" => Some(".internal.corp, 169.254.169.254, 10.0.0.0/8, ::1, fd00::/8".into()),
            _ => None,
        });
        assert_eq!(
            env.https,
            Some(Ok(Proxy {
                host: "proxy.corp".into(),
                port: 3128
            }))
        );
        assert_eq!(env.http, None);
        let dest = |host: &str| Destination {
            scheme: Scheme::Https,
            host: host.into(),
            port: 443,
            path: "/".into(),
        };
        let proxied = |host: &str| env.for_destination(&dest(host)).unwrap().is_some();
        assert!(proxied("ecr.aws"));
        assert!(!proxied("a.internal.corp"));
        assert!(!proxied("internal.corp"));
        assert!(
            !proxied("a.internal.corp."),
            "a trailing dot names the same host"
        );
        assert!(proxied("notinternal.corp"));
        assert!(!proxied("169.254.169.254"));
        assert!(!proxied("10.1.2.3"), "CIDR entries match");
        assert!(proxied("11.1.2.3"));
        assert!(!proxied("::1"), "IPv6 entries match");
        assert!(!proxied("fd00::5"), "IPv6 CIDR entries match");
        assert!(
            proxied("example.com."),
            "::1 does not match names ending in a dot"
        );
        assert!(proxied("2001:db8::1"));
        let every = ProxyEnv::from_vars(|name| match name {
            "HTTP_PROXY" => Some("http://p:1".into()),
            "NO_PROXY" => Some("*".into()),
            _ => None,
        });
        let plain = Destination {
            scheme: Scheme::Http,
            ..dest("anything.example")
        };
        assert_eq!(every.for_destination(&plain), Ok(None));
    }

    #[test]
    fn an_unusable_proxy_fails_only_what_would_use_it() {
        let env = ProxyEnv::from_vars(|n| (n == "HTTPS_PROXY").then(|| "socks5://x:1".into()));
        assert_eq!(
            env.problems(),
            ["HTTPS_PROXY: only http:// proxies are supported"]
        );
        let dest = |scheme| Destination {
            scheme,
            host: "h.example".into(),
            port: 443,
            path: "/".into(),
        };
        assert_eq!(
            env.for_destination(&dest(Scheme::Https)),
            Err("HTTPS_PROXY: only http:// proxies are supported")
        );
        assert_eq!(env.for_destination(&dest(Scheme::Http)), Ok(None));
        assert!(ProxyEnv::from_vars(|_| None).problems().is_empty());
    }
}
