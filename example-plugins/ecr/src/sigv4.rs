//! AWS Signature Version 4 (`AWS4-HMAC-SHA256`) request signing, header variant.
//!
//! Enough of the algorithm for AWS JSON and query APIs: canonical request (method, URI-encoded
//! path, sorted query, lowercased trimmed headers, payload hash), string to sign, the derived
//! signing key and the `Authorization` header. Tested against AWS's published test suite
//! (`testdata/sigv4/`).

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// The keys a request is signed with.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKeys {
    /// `AWS_ACCESS_KEY_ID`.
    pub access_key_id: String,
    /// `AWS_SECRET_ACCESS_KEY`.
    pub secret_access_key: String,
    /// `AWS_SESSION_TOKEN` for temporary credentials; sent (and signed) as `X-Amz-Security-Token`.
    pub session_token: Option<String>,
}

impl std::fmt::Debug for SigningKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeys")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// A request to sign. `headers` must include `host` (the authority the request goes to, exactly
/// as sent); header names are matched case-insensitively.
#[derive(Debug, Clone)]
pub struct Signable<'a> {
    /// `GET`, `POST`, ...
    pub method: &'a str,
    /// The path as sent (`/` for the JSON APIs).
    pub path: &'a str,
    /// The query string as sent, without `?` (empty for none).
    pub query: &'a str,
    /// Header fields that are sent, including `host`.
    pub headers: &'a [(String, String)],
    /// The body.
    pub body: &'a [u8],
}

/// Where and when a request is signed.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    /// The region (`us-west-2`).
    pub region: &'a str,
    /// The signing name of the service (`ecr`, `ecr-public`, `sts`).
    pub service: &'a str,
    /// The signing time, ISO 8601 basic (`20150830T123600Z`).
    pub amz_date: &'a str,
    /// Also send and sign `x-amz-content-sha256` (S3 style); the JSON APIs do not.
    pub content_sha256_header: bool,
}

/// The header fields to add to the request: `x-amz-date`, perhaps `x-amz-content-sha256` and
/// `x-amz-security-token`, then `authorization`.
pub fn sign(
    request: &Signable<'_>,
    scope: &Scope<'_>,
    keys: &SigningKeys,
) -> Vec<(String, String)> {
    let payload_hash = hex(&Sha256::digest(request.body));
    let mut added = vec![("x-amz-date".to_owned(), scope.amz_date.to_owned())];
    if scope.content_sha256_header {
        added.push(("x-amz-content-sha256".to_owned(), payload_hash.clone()));
    }
    if let Some(token) = &keys.session_token {
        added.push(("x-amz-security-token".to_owned(), token.clone()));
    }
    let mut all = request.headers.to_vec();
    all.extend(added.iter().cloned());
    let (canonical, signed_headers) = canonical_request(request, &all, &payload_hash);
    let signature = signature(&canonical, scope, &keys.secret_access_key);
    let date = scope.amz_date.get(..8).unwrap_or(scope.amz_date);
    added.push((
        "authorization".to_owned(),
        format!(
            "AWS4-HMAC-SHA256 Credential={}/{date}/{}/{}/aws4_request, SignedHeaders={signed_headers}, Signature={signature}",
            keys.access_key_id, scope.region, scope.service
        ),
    ));
    added
}

/// The canonical request for `request` with header fields `headers` (all that are signed), and
/// the `SignedHeaders` list.
pub fn canonical_request(
    request: &Signable<'_>,
    headers: &[(String, String)],
    payload_hash: &str,
) -> (String, String) {
    let mut fields: Vec<(String, String)> = Vec::new();
    for (name, value) in headers {
        let name = name.to_ascii_lowercase();
        let value = collapse_spaces(value);
        match fields.iter_mut().find(|(n, _)| *n == name) {
            Some((_, joined)) => {
                joined.push(',');
                joined.push_str(&value);
            }
            None => fields.push((name, value)),
        }
    }
    fields.sort_by(|a, b| a.0.cmp(&b.0));
    let signed_headers = fields
        .iter()
        .map(|(n, _)| n.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let mut canonical = format!(
        "{}\n{}\n{}\n",
        request.method.to_ascii_uppercase(),
        canonical_uri(request.path),
        canonical_query(request.query)
    );
    for (name, value) in &fields {
        canonical.push_str(&format!("{name}:{value}\n"));
    }
    canonical.push_str(&format!("\n{signed_headers}\n{payload_hash}"));
    (canonical, signed_headers)
}

/// The hex signature of `canonical_request`.
pub fn signature(canonical_request: &str, scope: &Scope<'_>, secret_access_key: &str) -> String {
    let date = scope.amz_date.get(..8).unwrap_or(scope.amz_date);
    let credential_scope = format!("{date}/{}/{}/aws4_request", scope.region, scope.service);
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{}\n{credential_scope}\n{}",
        scope.amz_date,
        hex(&Sha256::digest(canonical_request.as_bytes()))
    );
    let mut key = hmac(
        format!("AWS4{secret_access_key}").as_bytes(),
        date.as_bytes(),
    );
    for part in [scope.region, scope.service, "aws4_request"] {
        key = hmac(&key, part.as_bytes());
    }
    hex(&hmac(&key, string_to_sign.as_bytes()))
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length: `new_from_slice` cannot fail for it.
    match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(data);
            mac.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

/// Trims a header value and folds runs of spaces into one.
fn collapse_spaces(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// RFC 3986 encoding of everything but the unreserved characters (and `/` when `keep_slash`).
pub fn uri_encode(text: &[u8], keep_slash: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for &b in text {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'_' | b'.' | b'~')
            || (keep_slash && b == b'/')
        {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The path as sent, encoded once more (AWS services other than S3 double-encode).
fn canonical_uri(path: &str) -> String {
    if path.is_empty() {
        return "/".to_owned();
    }
    uri_encode(path.as_bytes(), true)
}

/// The query's parameters, each name and value decoded then encoded canonically, sorted.
fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (
                uri_encode(&percent_decode(k), false),
                uri_encode(&percent_decode(v), false),
            )
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

fn percent_decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let decoded = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match decoded {
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// One vector of AWS's suite: `request.txt` parsed into method, path, query, headers, body.
    struct Vector {
        name: String,
        method: String,
        path: String,
        query: String,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
        context: serde_json::Value,
        canonical: String,
        signature: String,
    }

    fn load(dir: &Path) -> Vector {
        let read = |f: &str| std::fs::read(dir.join(f)).unwrap();
        let raw = read("request.txt");
        let text = String::from_utf8(raw).unwrap();
        let (head, body) = match text.split_once("\n\n") {
            Some((h, b)) => (h.to_owned(), b.as_bytes().to_vec()),
            None => (text.trim_end_matches('\n').to_owned(), Vec::new()),
        };
        let mut lines = head.lines();
        let request_line = lines.next().unwrap();
        let (method, rest) = request_line.split_once(' ').unwrap();
        let target = rest.rsplit_once(' ').unwrap().0;
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let headers = lines
            .map(|l| {
                let (n, v) = l.split_once(':').unwrap();
                (n.to_owned(), v.to_owned())
            })
            .collect();
        Vector {
            name: dir.file_name().unwrap().to_string_lossy().into_owned(),
            method: method.to_owned(),
            path: path.to_owned(),
            query: query.to_owned(),
            headers,
            body,
            context: serde_json::from_slice(&read("context.json")).unwrap(),
            canonical: String::from_utf8(read("header-canonical-request.txt")).unwrap(),
            signature: String::from_utf8(read("header-signature.txt"))
                .unwrap()
                .trim()
                .to_owned(),
        }
    }

    #[test]
    fn aws_sigv4_test_suite() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/sigv4");
        let mut dirs: Vec<_> = std::fs::read_dir(&root)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_dir())
            .collect();
        dirs.sort();
        assert!(dirs.len() >= 20, "vectors in {}", root.display());
        for dir in dirs {
            let v = load(&dir);
            let ctx = &v.context;
            let creds = &ctx["credentials"];
            let keys = SigningKeys {
                access_key_id: creds["access_key_id"].as_str().unwrap().to_owned(),
                secret_access_key: creds["secret_access_key"].as_str().unwrap().to_owned(),
                session_token: creds["token"].as_str().map(str::to_owned),
            };
            // "2015-08-30T12:36:00Z" -> "20150830T123600Z"
            let amz_date: String = ctx["timestamp"]
                .as_str()
                .unwrap()
                .chars()
                .filter(|c| *c != '-' && *c != ':')
                .collect();
            let scope = Scope {
                region: ctx["region"].as_str().unwrap(),
                service: ctx["service"].as_str().unwrap(),
                amz_date: &amz_date,
                content_sha256_header: ctx["sign_body"].as_bool().unwrap_or(false),
            };
            let signable = Signable {
                method: &v.method,
                path: &v.path,
                query: &v.query,
                headers: &v.headers,
                body: &v.body,
            };
            let added = sign(&signable, &scope, &keys);
            let mut all = v.headers.clone();
            all.extend(added.iter().filter(|(n, _)| n != "authorization").cloned());
            let payload = hex(&Sha256::digest(&v.body));
            let (canonical, signed) = canonical_request(&signable, &all, &payload);
            assert_eq!(canonical, v.canonical, "canonical request of {}", v.name);
            let authorization = &added.last().unwrap().1;
            assert!(
                authorization.ends_with(&format!(
                    "SignedHeaders={signed}, Signature={}",
                    v.signature
                )),
                "signature of {}: {authorization}",
                v.name
            );
            assert!(authorization.starts_with(&format!(
                "AWS4-HMAC-SHA256 Credential={}/20150830/us-east-1/service/aws4_request, ",
                keys.access_key_id
            )));
        }
    }

    #[test]
    fn debug_hides_secrets() {
        let keys = SigningKeys {
            access_key_id: "AKID".into(),
            secret_access_key: "very-secret".into(),
            session_token: Some("tok-secret".into()),
        };
        let shown = format!("{keys:?}");
        assert!(shown.contains("AKID") && !shown.contains("secret\"") && !shown.contains("tok-"));
    }

    #[test]
    fn encodes_like_aws() {
        assert_eq!(uri_encode(b"a b/c~d*", true), "a%20b/c~d%2A");
        assert_eq!(uri_encode(b"a/b", false), "a%2Fb");
        assert_eq!(canonical_query("b=2&a=%41&c"), "a=A&b=2&c=");
        assert_eq!(percent_decode("%zz%4"), b"%zz%4".to_vec());
    }
}
