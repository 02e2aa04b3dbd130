//! The AWS calls: credentials (environment, EC2 instance metadata IMDSv2, STS
//! `AssumeRoleWithWebIdentity`), the region, and ECR's `GetAuthorizationToken`.
//!
//! Every error is one line that names the endpoint and what went wrong, never a key, a session
//! token, a service-account token or a password.

use std::cell::RefCell;
use std::time::SystemTime;

use base64::Engine as _;
use credential_provider_sdk::http::{
    HttpError, Request as HttpRequest, Response as HttpResponse, Target,
};

use crate::hosts;
use crate::sigv4::{self, Scope, Signable, SigningKeys};
use crate::time;

/// The service-account annotation naming the role to assume with the pod's token.
pub const ROLE_ARN_ANNOTATION: &str = "eks.amazonaws.com/ecr-role-arn";
/// The session name the real plugin gives `AssumeRoleWithWebIdentity`.
pub const ROLE_SESSION_NAME: &str = "ecr-credential-provider";
/// The default instance metadata endpoint (IPv4).
pub const IMDS_ENDPOINT: &str = "http://169.254.169.254";
/// The instance metadata endpoint in IPv6 mode.
pub const IMDS_ENDPOINT_IPV6: &str = "http://[fd00:ec2::254]";
/// Lifetime asked for an IMDSv2 session token, in seconds (the SDKs' default).
const IMDS_TOKEN_TTL: &str = "21600";

/// Sends one HTTP request (the SDK client in the plugin, a fake in unit tests).
pub type Transport<'a> = &'a dyn Fn(&HttpRequest) -> Result<HttpResponse, HttpError>;
/// Reads one environment variable.
pub type Environment<'a> = &'a dyn Fn(&str) -> Option<String>;

/// AWS credentials and where they came from.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// The keys.
    pub keys: SigningKeys,
    /// Their expiry, epoch seconds, when temporary.
    pub expires: Option<i64>,
    /// Where they came from, for messages (`environment`, `instance metadata role NAME`, ...).
    pub source: String,
}

/// An ECR authorization token, decoded.
#[derive(Debug, Clone)]
pub struct AuthorizationToken {
    /// The user name (ECR says `AWS`).
    pub username: String,
    /// The password (the registry token itself).
    pub password: String,
    /// `expiresAt`, epoch seconds (fractional), when ECR sent it.
    pub expires_at: Option<f64>,
}

/// Which ECR API to call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// Private ECR (`AmazonEC2ContainerRegistry_V20150921`, signing name `ecr`).
    Private,
    /// ECR Public (`SpencerFrontendService`, signing name `ecr-public`).
    Public,
}

/// The AWS client of one run: environment, transport, clock, and the IMDSv2 session token once
/// fetched.
pub struct Aws<'a> {
    env: Environment<'a>,
    send: Transport<'a>,
    now: SystemTime,
    imds_token: RefCell<Option<String>>,
}

impl<'a> Aws<'a> {
    /// A client reading `env`, sending with `send`, at time `now`.
    pub fn new(env: Environment<'a>, send: Transport<'a>, now: SystemTime) -> Self {
        Aws {
            env,
            send,
            now,
            imds_token: RefCell::new(None),
        }
    }

    /// The current time.
    pub fn now(&self) -> SystemTime {
        self.now
    }

    /// A non-empty environment variable.
    pub fn var(&self, name: &str) -> Option<String> {
        (self.env)(name).filter(|v| !v.is_empty())
    }

    fn flag(&self, name: &str) -> bool {
        self.var(name)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }

    /// The endpoint configured for a service the way the AWS SDKs read it: `AWS_ENDPOINT_URL_<ID>`,
    /// then `AWS_ENDPOINT_URL`, unless `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true`.
    pub fn endpoint_override(&self, service_env: &str) -> Result<Option<String>, String> {
        if self.flag("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS") {
            return Ok(None);
        }
        let Some((name, url)) = [service_env, "AWS_ENDPOINT_URL"]
            .into_iter()
            .find_map(|n| self.var(n).map(|v| (n, v)))
        else {
            return Ok(None);
        };
        let url = url.trim().trim_end_matches('/').to_owned();
        let lower = url.to_ascii_lowercase();
        if !(lower.starts_with("https://") || lower.starts_with("http://"))
            || url.contains(['?', '#', '@', ' '])
        {
            return Err(format!(
                "{name} must be an http:// or https:// URL without user, query or fragment"
            ));
        }
        Ok(Some(url))
    }

    /// The region when the image host names none: `AWS_REGION`, `AWS_DEFAULT_REGION`, then
    /// instance metadata (`/latest/meta-data/placement/region`).
    pub fn default_region(&self) -> Result<String, String> {
        let region = match ["AWS_REGION", "AWS_DEFAULT_REGION"]
            .into_iter()
            .find_map(|n| self.var(n).map(|v| (n, v)))
        {
            Some((name, region)) => {
                if !hosts::is_region(&region) {
                    return Err(format!("{name} is not a region name"));
                }
                return Ok(region);
            }
            None if self.flag("AWS_EC2_METADATA_DISABLED") => {
                return Err("no AWS region: the image host names none, AWS_REGION and \
                            AWS_DEFAULT_REGION are not set, and instance metadata is disabled"
                    .into());
            }
            None => self
                .imds_get("/latest/meta-data/placement/region")
                .map_err(|e| {
                    format!(
                        "no AWS region: the image host names none, AWS_REGION and \
                         AWS_DEFAULT_REGION are not set (grant one with --env), and {e}"
                    )
                })?,
        };
        let region = region.trim().to_owned();
        if !hosts::is_region(&region) {
            return Err("instance metadata answered a region that is not a region name".into());
        }
        Ok(region)
    }

    /// The credentials for the ECR call: STS web identity when the request carries a
    /// service-account token and a role ARN is configured, else the environment's keys, else
    /// the instance role from IMDSv2.
    pub fn credentials(
        &self,
        service_account_token: Option<&str>,
        role_arn_annotation: Option<&str>,
        region: &str,
    ) -> Result<Credentials, String> {
        if let Some(token) = service_account_token.filter(|t| !t.is_empty()) {
            let role_arn = role_arn_annotation
                .filter(|a| !a.is_empty())
                .map(str::to_owned)
                .or_else(|| self.var("AWS_ECR_ROLE_ARN"));
            if let Some(role_arn) = role_arn {
                let creds = self.assume_role_with_web_identity(&role_arn, token, region)?;
                return self.check_expiry(creds);
            }
        }
        if let Some(creds) = self.env_credentials()? {
            return Ok(creds);
        }
        if self.flag("AWS_EC2_METADATA_DISABLED") {
            return Err(
                "no AWS credentials: AWS_ACCESS_KEY_ID is not set (grant it with --env) \
                        and instance metadata is disabled (AWS_EC2_METADATA_DISABLED)"
                    .into(),
            );
        }
        let creds = self.imds_credentials().map_err(|e| {
            format!(
                "no AWS credentials: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY are not set (grant \
                 them with --env) and {e}"
            )
        })?;
        self.check_expiry(creds)
    }

    fn check_expiry(&self, creds: Credentials) -> Result<Credentials, String> {
        match creds.expires {
            Some(at) if at <= time::epoch_seconds(self.now) => Err(format!(
                "the AWS credentials from {} expired at {}",
                creds.source,
                time::rfc3339(at)
            )),
            _ => Ok(creds),
        }
    }

    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and optional `AWS_SESSION_TOKEN`.
    fn env_credentials(&self) -> Result<Option<Credentials>, String> {
        let id = self.var("AWS_ACCESS_KEY_ID");
        let secret = self.var("AWS_SECRET_ACCESS_KEY");
        match (id, secret) {
            (None, None) => Ok(None),
            (Some(_), None) => Err(
                "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not (grant it with --env)"
                    .into(),
            ),
            (None, Some(_)) => Err(
                "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not (grant it with --env)"
                    .into(),
            ),
            (Some(access_key_id), Some(secret_access_key)) => Ok(Some(Credentials {
                keys: SigningKeys {
                    access_key_id,
                    secret_access_key,
                    session_token: self.var("AWS_SESSION_TOKEN"),
                },
                expires: None,
                source: "the environment".into(),
            })),
        }
    }

    fn imds_endpoint(&self) -> Result<String, String> {
        if let Some(url) = self.var("AWS_EC2_METADATA_SERVICE_ENDPOINT") {
            let url = url.trim().trim_end_matches('/').to_owned();
            if !url.to_ascii_lowercase().starts_with("http://")
                && !url.to_ascii_lowercase().starts_with("https://")
            {
                return Err("AWS_EC2_METADATA_SERVICE_ENDPOINT must be an http:// URL".into());
            }
            return Ok(url);
        }
        Ok(match self.var("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE") {
            Some(mode) if mode.eq_ignore_ascii_case("ipv6") => IMDS_ENDPOINT_IPV6,
            _ => IMDS_ENDPOINT,
        }
        .to_owned())
    }

    /// The IMDSv2 session token (`PUT /latest/api/token`), fetched once per run.
    fn imds_token(&self) -> Result<String, String> {
        if let Some(token) = self.imds_token.borrow().clone() {
            return Ok(token);
        }
        let url = format!("{}/latest/api/token", self.imds_endpoint()?);
        let request = HttpRequest::new("PUT", &url)
            .header("x-aws-ec2-metadata-token-ttl-seconds", IMDS_TOKEN_TTL);
        let response = self.send("instance metadata", &request)?;
        if response.status != 200 {
            return Err(format!(
                "instance metadata (IMDSv2) refused a session token: {url} answered HTTP {}",
                response.status
            ));
        }
        let token = response.text().trim().to_owned();
        if token.is_empty() || token.contains(['\r', '\n']) {
            return Err(format!(
                "instance metadata (IMDSv2) answered {url} with an unusable token"
            ));
        }
        *self.imds_token.borrow_mut() = Some(token.clone());
        Ok(token)
    }

    /// `GET` of an instance metadata path with the session token: the body as text.
    fn imds_get(&self, path: &str) -> Result<String, String> {
        let token = self.imds_token()?;
        let url = format!("{}{path}", self.imds_endpoint()?);
        let request = HttpRequest::get(&url).header("x-aws-ec2-metadata-token", &token);
        let response = self.send("instance metadata", &request)?;
        if response.status != 200 {
            return Err(format!(
                "instance metadata answered {url} with HTTP {}",
                response.status
            ));
        }
        Ok(response.text())
    }

    /// The instance role's credentials from IMDSv2.
    fn imds_credentials(&self) -> Result<Credentials, String> {
        const ROLES: &str = "/latest/meta-data/iam/security-credentials/";
        let roles = self.imds_get(ROLES)?;
        let role =
            roles.lines().map(str::trim).find(|l| !l.is_empty()).ok_or(
                "instance metadata lists no IAM role: the instance has no instance profile",
            )?;
        if !role
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b))
        {
            return Err("instance metadata answered an IAM role name that is not valid".into());
        }
        let body = self.imds_get(&format!("{ROLES}{role}"))?;
        let json: serde_json::Value = serde_json::from_str(&body)
            .map_err(|_| format!("instance metadata's credentials for role {role} are not JSON"))?;
        let field = |name: &str| {
            json.get(name)
                .and_then(|v| v.as_str())
                .filter(|s| !s.is_empty())
        };
        if let Some(code) = field("Code").filter(|c| *c != "Success") {
            return Err(format!(
                "instance metadata could not give credentials for role {role}: {}",
                clean(code)
            ));
        }
        let missing =
            |what: &str| format!("instance metadata's credentials for role {role} have no {what}");
        let keys = SigningKeys {
            access_key_id: field("AccessKeyId")
                .ok_or_else(|| missing("AccessKeyId"))?
                .to_owned(),
            secret_access_key: field("SecretAccessKey")
                .ok_or_else(|| missing("SecretAccessKey"))?
                .to_owned(),
            session_token: field("Token").map(str::to_owned),
        };
        let expires = match field("Expiration") {
            None => None,
            Some(text) => Some(time::parse_rfc3339(text).ok_or_else(|| {
                format!(
                    "instance metadata's credentials for role {role} have an unreadable Expiration"
                )
            })?),
        };
        Ok(Credentials {
            keys,
            expires,
            source: format!("instance metadata role {role}"),
        })
    }

    /// STS `AssumeRoleWithWebIdentity` with the pod's service-account token (unsigned).
    fn assume_role_with_web_identity(
        &self,
        role_arn: &str,
        token: &str,
        region: &str,
    ) -> Result<Credentials, String> {
        let endpoint = match self.endpoint_override("AWS_ENDPOINT_URL_STS")? {
            Some(url) => url,
            None => hosts::sts_endpoint(region),
        };
        let url = format!("{endpoint}/");
        let form = [
            ("Action", "AssumeRoleWithWebIdentity"),
            ("RoleArn", role_arn),
            ("RoleSessionName", ROLE_SESSION_NAME),
            ("Version", "2011-06-15"),
            ("WebIdentityToken", token),
        ]
        .iter()
        .map(|(k, v)| format!("{k}={}", sigv4::uri_encode(v.as_bytes(), false)))
        .collect::<Vec<_>>()
        .join("&");
        let request = HttpRequest::post(&url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form.into_bytes());
        let response = self.send("STS", &request)?;
        let body = response.text();
        let what = format!(
            "STS AssumeRoleWithWebIdentity at {url} for role {}",
            clean(role_arn)
        );
        let reply = crate::xml::Document::parse(&body);
        if !(200..300).contains(&response.status) {
            let reply = reply.unwrap_or_default();
            let code = reply.text(&["Error", "Code"]).unwrap_or_default();
            let message = reply.text(&["Error", "Message"]).unwrap_or_default();
            return Err(format!(
                "{what} failed: HTTP {}{}",
                response.status,
                describe(code, message)
            ));
        }
        let reply = reply.map_err(|_| format!("{what}: the reply is not XML"))?;
        if !reply.has(&["Credentials"]) {
            return Err(format!("{what}: the reply has no Credentials element"));
        }
        let field = |name: &str| {
            reply
                .text(&["Credentials", name])
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
                .ok_or_else(|| format!("{what}: the reply's Credentials have no {name}"))
        };
        let keys = SigningKeys {
            access_key_id: field("AccessKeyId")?,
            secret_access_key: field("SecretAccessKey")?,
            session_token: Some(field("SessionToken")?),
        };
        let expires = match reply.text(&["Credentials", "Expiration"]) {
            None => None,
            Some(text) => Some(
                time::parse_rfc3339(text)
                    .ok_or_else(|| format!("{what}: the reply's Expiration is unreadable"))?,
            ),
        };
        Ok(Credentials {
            keys,
            expires,
            source: format!("STS web identity (role {})", clean(role_arn)),
        })
    }

    /// SigV4-signed `GetAuthorizationToken` with an empty input.
    pub fn get_authorization_token(
        &self,
        api: Api,
        region: &str,
        fips: bool,
        creds: &Credentials,
    ) -> Result<AuthorizationToken, String> {
        let (env_name, target, service, default) = match api {
            Api::Private => (
                "AWS_ENDPOINT_URL_ECR",
                "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken",
                "ecr",
                hosts::ecr_endpoint(region, fips || self.flag("AWS_USE_FIPS_ENDPOINT")),
            ),
            Api::Public => (
                "AWS_ENDPOINT_URL_ECR_PUBLIC",
                "SpencerFrontendService.GetAuthorizationToken",
                "ecr-public",
                hosts::ECR_PUBLIC_ENDPOINT.to_owned(),
            ),
        };
        let endpoint = self.endpoint_override(env_name)?.unwrap_or(default);
        let url = format!("{endpoint}/");
        // Sign the `host` and path the request carries on the wire (the URL standard's
        // normalisation: default port dropped, host lowercased), not the text as written.
        let wire = Target::parse(&url)
            .map_err(|e| format!("{env_name}: cannot send to the endpoint URL ({e})"))?;
        let (authority, path) = (wire.authority.as_str(), wire.path_and_query.as_str());
        let body = b"{}";
        let content_type = "application/x-amz-json-1.1";
        let signed = [
            ("host".to_owned(), authority.to_owned()),
            ("content-type".to_owned(), content_type.to_owned()),
            ("x-amz-target".to_owned(), target.to_owned()),
        ];
        let amz_date = time::amz_date(self.now);
        let added = sigv4::sign(
            &Signable {
                method: "POST",
                path,
                query: "",
                headers: &signed,
                body,
            },
            &Scope {
                region,
                service,
                amz_date: &amz_date,
                content_sha256_header: false,
            },
            &creds.keys,
        );
        let mut request = HttpRequest::post(&url)
            .header("content-type", content_type)
            .header("x-amz-target", target);
        for (name, value) in &added {
            request = request.header(name, value);
        }
        let request = request.body(body.to_vec());
        let what = match api {
            Api::Private => format!("ECR GetAuthorizationToken at {url}"),
            Api::Public => format!("ECR Public GetAuthorizationToken at {url}"),
        };
        let response = self.send("ECR", &request)?;
        if !(200..300).contains(&response.status) {
            return Err(format!(
                "{what} failed: HTTP {}{} (credentials from {})",
                response.status,
                aws_json_error(&response),
                creds.source
            ));
        }
        let json: serde_json::Value = serde_json::from_slice(&response.body).map_err(|e| {
            format!(
                "{what}: the reply is not JSON ({})",
                credential_provider_sdk::describe_json_error(&e)
            )
        })?;
        let data = match (api, json.get("authorizationData")) {
            (_, None | Some(serde_json::Value::Null)) => {
                return Err(format!("{what}: the reply has no authorizationData"));
            }
            (Api::Private, Some(serde_json::Value::Array(list))) => list
                .first()
                .ok_or_else(|| format!("{what}: authorizationData is empty"))?,
            (Api::Public, Some(object @ serde_json::Value::Object(_))) => object,
            (_, Some(_)) => {
                return Err(format!("{what}: authorizationData has the wrong JSON type"));
            }
        };
        let token = data
            .get("authorizationToken")
            .and_then(|t| t.as_str())
            .filter(|t| !t.is_empty())
            .ok_or_else(|| format!("{what}: the reply has no authorizationToken"))?;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(token.trim())
            .ok()
            .and_then(|d| String::from_utf8(d).ok())
            .ok_or_else(|| format!("{what}: authorizationToken is not base64 text"))?;
        let (username, password) = decoded.split_once(':').ok_or_else(|| {
            format!("{what}: authorizationToken is not of the form username:password")
        })?;
        let expires_at = match data.get("expiresAt") {
            None | Some(serde_json::Value::Null) => None,
            Some(value) => Some(
                value
                    .as_f64()
                    .filter(|v| v.is_finite())
                    .ok_or_else(|| format!("{what}: expiresAt is not a number"))?,
            ),
        };
        Ok(AuthorizationToken {
            username: username.to_owned(),
            password: password.to_owned(),
            expires_at,
        })
    }

    /// Sends `request`; a transport failure becomes a message naming `service` and the URL.
    fn send(&self, service: &str, request: &HttpRequest) -> Result<HttpResponse, String> {
        (self.send)(request).map_err(|e| match e {
            HttpError::Denied(_) => format!(
                "the host refused the request to {service} at {} (not allowed by the provider's \
                 --allow-http list)",
                request.url
            ),
            other => format!("{service} at {} is unreachable: {other}", request.url),
        })
    }
}

/// ` <Code>: <message>` of an AWS JSON error reply (`__type`, `x-amzn-ErrorType`, `message`).
fn aws_json_error(response: &HttpResponse) -> String {
    let json: Option<serde_json::Value> = serde_json::from_slice(&response.body).ok();
    let get = |name: &str| {
        json.as_ref()
            .and_then(|j| j.get(name))
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    };
    let code = get("__type")
        .or_else(|| get("code"))
        .or_else(|| response.header("x-amzn-errortype").map(str::to_owned))
        .map(|c| {
            // `aws.protocol#Code` and `Code:http://internal/` forms.
            let c = c.rsplit('#').next().unwrap_or(&c).to_owned();
            c.split(':').next().unwrap_or(&c).to_owned()
        })
        .unwrap_or_default();
    let message = get("message")
        .or_else(|| get("Message"))
        .unwrap_or_default();
    describe(&code, &message)
}

fn describe(code: &str, message: &str) -> String {
    match (code.is_empty(), message.is_empty()) {
        (true, true) => String::new(),
        (false, true) => format!(" {}", clean(code)),
        (true, false) => format!(": {}", clean(message)),
        (false, false) => format!(" {}: {}", clean(code), clean(message)),
    }
}

/// Text from a server, fit for a one-line message: control characters replaced, at most 300
/// characters.
fn clean(text: &str) -> String {
    let mut out: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(300)
        .collect();
    if text.chars().count() > 300 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleans_server_text() {
        assert_eq!(clean("a\nb"), "a b");
        assert_eq!(clean(&"x".repeat(400)).chars().count(), 301);
        assert_eq!(describe("", ""), "");
        assert_eq!(describe("C", "m"), " C: m");
    }
}
