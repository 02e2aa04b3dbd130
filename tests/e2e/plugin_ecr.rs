//! End-to-end tests of the `ecr` example plugin through the host, against loopback servers
//! speaking the real cloud wire formats (see `cloud_servers.rs`).
//!
//! The plugin keeps its real endpoints (`https://api.ecr.<region>.amazonaws.com/`,
//! `https://api.ecr-public.us-east-1.amazonaws.com/`, `https://sts.<region>.amazonaws.com/`,
//! `http://169.254.169.254/latest/...`) and the host gets exactly the `--allow-http` and `--env`
//! lists of `example-plugins/ecr/README.md`. `HTTPS_PROXY` (a CONNECT tunnel to one TLS server
//! with a test CA standing for ECR, ECR Public and STS) and `HTTP_PROXY` (plain HTTP, absolute
//! form, to a fake instance metadata service) route the requests to loopback.
//!
//! The fake ECR checks every request's SigV4 signature with the known secret, recomputed from
//! the received bytes by [`verify_sigv4`] (written here, independent of the plugin's signer, and
//! itself checked against one of AWS's published vectors), and answers
//! `InvalidSignatureException` when it differs.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::json;
use sha2::{Digest, Sha256};

use crate::cloud_servers::{Exchange, FakeCloud, Reply};
use crate::http_servers::{ConnectProxy, TestCa};
use crate::support::*;

const PLUGIN: &str = "ecr-credential-provider";
const README: &str = include_str!("../../example-plugins/ecr/README.md");

/// The `args` of the README's `ecr-credential-provider` provider (less `--sha256`).
const NODE_ARGS: [&str; 32] = [
    "--arg=get-credentials",
    "--allow-http=api.ecr.*.amazonaws.com",
    "--allow-http=api.ecr.*.amazonaws.com.cn",
    "--allow-http=ecr-fips.*.amazonaws.com",
    "--allow-http=api.ecr.*.amazonaws.eu",
    "--allow-http=api.ecr.*.c2s.ic.gov",
    "--allow-http=api.ecr.*.sc2s.sgov.gov",
    "--allow-http=api.ecr.*.cloud.adc-e.uk",
    "--allow-http=api.ecr.*.csp.hci.ic.gov",
    "--allow-http=api.ecr-public.us-east-1.amazonaws.com",
    "--allow-http=http://169.254.169.254/latest/api/token",
    "--allow-http=http://169.254.169.254/latest/meta-data/iam/security-credentials",
    "--allow-http=http://169.254.169.254/latest/meta-data/placement/region",
    "--env=AWS_ACCESS_KEY_ID",
    "--env=AWS_SECRET_ACCESS_KEY",
    "--env=AWS_SESSION_TOKEN",
    "--env=AWS_REGION",
    "--env=AWS_DEFAULT_REGION",
    "--allow-auth-key=*.dkr.ecr.*.amazonaws.com",
    "--allow-auth-key=*.dkr-ecr.*.on.aws",
    "--allow-auth-key=*.dkr.ecr.*.amazonaws.com.cn",
    "--allow-auth-key=*.dkr-ecr.*.on.amazonwebservices.com.cn",
    "--allow-auth-key=*.dkr.ecr-fips.*.amazonaws.com",
    "--allow-auth-key=*.dkr-ecr-fips.*.on.aws",
    "--allow-auth-key=*.dkr.ecr.*.c2s.ic.gov",
    "--allow-auth-key=*.dkr.ecr.*.sc2s.sgov.gov",
    "--allow-auth-key=*.dkr.ecr.*.cloud.adc-e.uk",
    "--allow-auth-key=*.dkr.ecr.*.csp.hci.ic.gov",
    "--allow-auth-key=*.dkr.ecr.*.amazonaws.eu",
    "--allow-auth-key=public.ecr.aws",
    "--allow-auth-key=ecr-public.aws.com",
    // `--sha256` is checked by other tests; here the module is the freshly built one.
    "--timeout=20s",
];

/// The `args` of the README's `ecr-credential-provider-irsa` provider (less `--module`/`--sha256`).
const IRSA_ARGS: [&str; 32] = [
    "--arg=get-credentials",
    "--allow-http=api.ecr.*.amazonaws.com",
    "--allow-http=api.ecr.*.amazonaws.com.cn",
    "--allow-http=ecr-fips.*.amazonaws.com",
    "--allow-http=api.ecr.*.amazonaws.eu",
    "--allow-http=api.ecr.*.c2s.ic.gov",
    "--allow-http=api.ecr.*.sc2s.sgov.gov",
    "--allow-http=api.ecr.*.cloud.adc-e.uk",
    "--allow-http=api.ecr.*.csp.hci.ic.gov",
    "--allow-http=api.ecr-public.us-east-1.amazonaws.com",
    "--allow-http=sts.*.amazonaws.com",
    "--allow-http=sts.*.amazonaws.com.cn",
    "--allow-http=sts.*.amazonaws.eu",
    "--allow-http=sts.*.c2s.ic.gov",
    "--allow-http=sts.*.sc2s.sgov.gov",
    "--allow-http=sts.*.cloud.adc-e.uk",
    "--allow-http=sts.*.csp.hci.ic.gov",
    "--env=AWS_ECR_ROLE_ARN",
    "--allow-auth-key=*.dkr.ecr.*.amazonaws.com",
    "--allow-auth-key=*.dkr-ecr.*.on.aws",
    "--allow-auth-key=*.dkr.ecr.*.amazonaws.com.cn",
    "--allow-auth-key=*.dkr-ecr.*.on.amazonwebservices.com.cn",
    "--allow-auth-key=*.dkr.ecr-fips.*.amazonaws.com",
    "--allow-auth-key=*.dkr-ecr-fips.*.on.aws",
    "--allow-auth-key=*.dkr.ecr.*.c2s.ic.gov",
    "--allow-auth-key=*.dkr.ecr.*.sc2s.sgov.gov",
    "--allow-auth-key=*.dkr.ecr.*.cloud.adc-e.uk",
    "--allow-auth-key=*.dkr.ecr.*.csp.hci.ic.gov",
    "--allow-auth-key=*.dkr.ecr.*.amazonaws.eu",
    "--allow-auth-key=public.ecr.aws",
    "--allow-auth-key=ecr-public.aws.com",
    "--timeout=20s",
];

/// Endpoint variables the README documents for pointing the plugin elsewhere.
const ENDPOINT_ENV: [&str; 4] = [
    "--env=AWS_ENDPOINT_URL_ECR",
    "--env=AWS_ENDPOINT_URL_ECR_PUBLIC",
    "--env=AWS_ENDPOINT_URL_STS",
    "--env=AWS_ENDPOINT_URL",
];

const IMAGE: &str = "123456789012.dkr.ecr.us-west-2.amazonaws.com/team/app";
const REGISTRY: &str = "123456789012.dkr.ecr.us-west-2.amazonaws.com";
const ECR_HOST: &str = "api.ecr.us-west-2.amazonaws.com";
const ECR_PUBLIC_HOST: &str = "api.ecr-public.us-east-1.amazonaws.com";
const STS_HOST: &str = "sts.us-west-2.amazonaws.com";
const IMDS_IP: &str = "169.254.169.254";

const ACCESS_KEY: &str = "AKIAIOSFODNN7EXAMPLE";
const SECRET_KEY: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const SESSION_TOKEN: &str = "FwoGZXIvYXdzEXAMPLEsessiontoken";
const IMDS_TOKEN: &str = "AQAEAimds-session-token==";
const IMDS_ROLE: &str = "eks-node-role";
const IMDS_KEY: &str = "ASIAIMDSEXAMPLE";
const IMDS_SECRET: &str = "imds-secret-key-EXAMPLE";
const IMDS_SESSION: &str = "imds-session-token-EXAMPLE";
const STS_KEY: &str = "ASIASTSEXAMPLE";
const STS_SECRET: &str = "sts-secret-key-EXAMPLE";
const STS_SESSION: &str = "sts-session-token-EXAMPLE";
const SA_TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.sa-token-payload.sig";
const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/ecr-pull";
const ECR_PASSWORD: &str = "ecr-registry-password-EXAMPLE";

/// Every secret the tests hand out: none may appear in an error or a log line.
const SECRETS: [&str; 7] = [
    SECRET_KEY,
    SESSION_TOKEN,
    IMDS_SECRET,
    IMDS_SESSION,
    STS_SECRET,
    SA_TOKEN,
    IMDS_TOKEN,
];

fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

fn base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// ECR's `GetAuthorizationToken` answer (private: a list; public: an object).
fn ecr_reply(public: bool, expires_at: Option<serde_json::Value>) -> Reply {
    let mut data = json!({
        "authorizationToken": base64(format!("AWS:{ECR_PASSWORD}").as_bytes()),
        "proxyEndpoint": format!("https://{REGISTRY}"),
    });
    if let Some(at) = expires_at {
        data["expiresAt"] = at;
    }
    let body = if public {
        json!({ "authorizationData": data })
    } else {
        json!({ "authorizationData": [data] })
    };
    Reply::json_as(200, "application/x-amz-json-1.1", &body)
}

fn twelve_hours() -> Option<serde_json::Value> {
    Some(json!(now_secs().floor() + 43_200.0))
}

fn sts_reply() -> Reply {
    Reply {
        status: 200,
        headers: vec![("Content-Type".into(), "text/xml".into())],
        body: format!(
            "<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\
             <AssumeRoleWithWebIdentityResult>\
             <SubjectFromWebIdentityToken>system:serviceaccount:team:puller</SubjectFromWebIdentityToken>\
             <AssumedRoleUser><Arn>{ROLE_ARN}/ecr-credential-provider</Arn></AssumedRoleUser>\
             <Credentials><SessionToken>{STS_SESSION}</SessionToken><SecretAccessKey>{STS_SECRET}</SecretAccessKey>\
             <Expiration>2099-01-01T00:00:00Z</Expiration><AccessKeyId>{STS_KEY}</AccessKeyId></Credentials>\
             </AssumeRoleWithWebIdentityResult>\
             <ResponseMetadata><RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ResponseMetadata>\
             </AssumeRoleWithWebIdentityResponse>"
        )
        .into_bytes(),
    }
}

/// What the fake AWS answers; tests change it between runs.
#[derive(Clone)]
struct Script {
    /// The answer to a correctly signed private `GetAuthorizationToken`.
    ecr: Reply,
    /// The answer to a correctly signed ECR Public `GetAuthorizationToken`.
    ecr_public: Reply,
    /// The answer to STS.
    sts: Reply,
}

/// The fake AWS: one TLS server for ECR, ECR Public and STS behind a CONNECT proxy, and a plain
/// instance metadata server.
struct FakeAws {
    ca: TestCa,
    tls: FakeCloud,
    proxy: ConnectProxy,
    imds: FakeCloud,
    script: Arc<Mutex<Script>>,
    /// What the signature check said about each ECR request.
    verdicts: Arc<Mutex<Vec<Result<(), String>>>>,
}

impl FakeAws {
    fn start() -> FakeAws {
        FakeAws::with_imds_credentials(json!({
            "Code": "Success",
            "LastUpdated": "2026-01-01T00:00:00Z",
            "Type": "AWS-HMAC",
            "AccessKeyId": IMDS_KEY,
            "SecretAccessKey": IMDS_SECRET,
            "Token": IMDS_SESSION,
            "Expiration": "2099-01-01T00:00:00Z",
        }))
    }

    fn with_imds_credentials(imds_credentials: serde_json::Value) -> FakeAws {
        let ca = TestCa::with_names(&[
            ECR_HOST,
            ECR_PUBLIC_HOST,
            STS_HOST,
            "sts.us-east-1.amazonaws.com",
            "localhost",
        ]);
        let script = Arc::new(Mutex::new(Script {
            ecr: ecr_reply(false, twelve_hours()),
            ecr_public: ecr_reply(true, twelve_hours()),
            sts: sts_reply(),
        }));
        let verdicts = Arc::new(Mutex::new(Vec::new()));
        let (s, v) = (script.clone(), verdicts.clone());
        let tls = FakeCloud::https(&ca, move |e: &Exchange| {
            let script = s.lock().unwrap().clone();
            if e.host.starts_with("sts.") {
                return script.sts;
            }
            let (service, region, reply) = if e.host == ECR_PUBLIC_HOST
                || e.header("x-amz-target")
                    .is_some_and(|t| t.starts_with("SpencerFrontendService."))
            {
                ("ecr-public", "us-east-1", script.ecr_public)
            } else {
                ("ecr", "us-west-2", script.ecr)
            };
            let verdict = verify_sigv4(e, service, region, &known_secrets(), true);
            v.lock().unwrap().push(verdict.clone());
            match verdict {
                Ok(()) => reply,
                Err(why) => Reply::json_as(
                    403,
                    "application/x-amz-json-1.1",
                    &json!({"__type": "InvalidSignatureException", "message": why}),
                ),
            }
        });
        let proxy = ConnectProxy::to_port(tls.port);
        let imds = FakeCloud::http(move |e: &Exchange| imds_answer(e, &imds_credentials));
        FakeAws {
            ca,
            tls,
            proxy,
            imds,
            script,
            verdicts,
        }
    }

    fn set(&self, change: impl FnOnce(&mut Script)) {
        change(&mut self.script.lock().unwrap());
    }

    /// The host's environment routing to the fakes, plus `extra`.
    fn env<'a>(&'a self, extra: &[(&'a str, &'a str)]) -> Vec<(String, String)> {
        let mut env = vec![
            (
                "HTTPS_PROXY".to_owned(),
                format!("http://127.0.0.1:{}", self.proxy.port),
            ),
            (
                "HTTP_PROXY".to_owned(),
                format!("http://127.0.0.1:{}", self.imds.port),
            ),
        ];
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        env
    }

    fn ca_arg(&self) -> String {
        format!("--ca-file={}", self.ca.ca_path())
    }

    fn ecr_requests(&self) -> Vec<Exchange> {
        self.tls
            .received()
            .into_iter()
            .filter(|e| !e.host.starts_with("sts."))
            .collect()
    }
}

fn known_secrets() -> Vec<(&'static str, &'static str)> {
    vec![
        (ACCESS_KEY, SECRET_KEY),
        (IMDS_KEY, IMDS_SECRET),
        (STS_KEY, STS_SECRET),
    ]
}

/// The instance metadata service, IMDSv2 only: a session token by `PUT`, then every `GET` must
/// carry it.
fn imds_answer(e: &Exchange, credentials: &serde_json::Value) -> Reply {
    if e.host != IMDS_IP {
        return Reply::text(404, "not instance metadata");
    }
    if e.method == "PUT" && e.path == "/latest/api/token" {
        return match e.header("x-aws-ec2-metadata-token-ttl-seconds") {
            Some(ttl) if ttl.parse::<u32>().is_ok_and(|t| (1..=21_600).contains(&t)) => {
                Reply::text(200, IMDS_TOKEN)
                    .with_header("x-aws-ec2-metadata-token-ttl-seconds", ttl)
            }
            _ => Reply::text(400, "missing or invalid ttl"),
        };
    }
    if e.method != "GET" {
        return Reply::text(405, "");
    }
    if e.header("x-aws-ec2-metadata-token") != Some(IMDS_TOKEN) {
        return Reply::text(401, "");
    }
    match e.path.as_str() {
        "/latest/meta-data/iam/security-credentials/" => Reply::text(200, IMDS_ROLE),
        "/latest/meta-data/placement/region" => Reply::text(200, "us-west-2"),
        p if p == format!("/latest/meta-data/iam/security-credentials/{IMDS_ROLE}") => {
            Reply::json_as(200, "text/plain", credentials)
        }
        _ => Reply::text(404, "not found"),
    }
}

/// Runs the plugin (wasm32-wasip2) through the host with `args`, `stdin`, and the host
/// environment `env` (every AWS variable and proxy cleared unless given).
fn run(args: &[&str], stdin: &[u8], env: &[(String, String)]) -> Outcome {
    let module = test_artifacts::plugin(PLUGIN, Target::P2);
    let mut all = vec!["--module", module.to_str().unwrap()];
    all.extend_from_slice(args);
    let mut environment: Vec<(&str, &str)> = [
        "HTTPS_PROXY",
        "HTTP_PROXY",
        "NO_PROXY",
        "https_proxy",
        "http_proxy",
        "no_proxy",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ECR_ROLE_ARN",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_ECR",
        "AWS_ENDPOINT_URL_ECR_PUBLIC",
        "AWS_ENDPOINT_URL_STS",
    ]
    .iter()
    .map(|n| (*n, ""))
    .collect();
    environment.extend(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let out = exec_program(Path::new(HOST), &all, stdin, &environment);
    for secret in SECRETS {
        assert!(
            !out.stderr.contains(secret),
            "a secret in stderr:\n{}",
            out.stderr
        );
    }
    out
}

/// The README's node args plus `extra` (the test CA).
fn node_args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = NODE_ARGS.to_vec();
    args.extend_from_slice(extra);
    args
}

fn keys_env() -> [(&'static str, &'static str); 2] {
    [
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
        ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
    ]
}

/// A v1 request carrying a service-account token and annotations.
fn sa_request(image: &str, annotations: serde_json::Value) -> Vec<u8> {
    let mut text = json!({
        "kind": "CredentialProviderRequest",
        "apiVersion": V1,
        "image": image,
        "serviceAccountToken": SA_TOKEN,
        "serviceAccountAnnotations": annotations,
    })
    .to_string();
    text.push('\n');
    text.into_bytes()
}

/// Asserts the response is the ECR credential for `key`, and returns its `cacheDuration`.
fn assert_ecr_credential(out: &Outcome, key: &str) -> Option<String> {
    let response = out.json();
    assert_eq!(response["cacheKeyType"], "Registry", "{response}");
    let (k, user, password) = only_credential(&response);
    assert_eq!(k, key);
    assert_eq!(user, "AWS");
    assert_eq!(password, ECR_PASSWORD);
    response["cacheDuration"].as_str().map(str::to_owned)
}

/// Seconds of a Go duration like `5h59m59s` (hours, minutes, seconds only).
fn go_secs(d: &str) -> u64 {
    let mut total = 0;
    let mut n = 0;
    for c in d.chars() {
        match c {
            '0'..='9' => n = n * 10 + u64::from(c.to_digit(10).unwrap()),
            'h' => (total, n) = (total + n * 3600, 0),
            'm' => (total, n) = (total + n * 60, 0),
            's' => (total, n) = (total + n, 0),
            other => panic!("unexpected {other} in {d}"),
        }
    }
    total
}

/// Non-zero exit, nothing on stdout, the plugin's one error line containing `needle`, and the
/// host's failure line last.
fn assert_plugin_error(out: &Outcome, needle: &str) {
    assert!(
        !out.status.success(),
        "expected failure, got {}",
        out.stdout
    );
    assert_eq!(out.stdout, "");
    let errors: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with(&format!("[{PLUGIN}] ")))
        .collect();
    assert_eq!(errors.len(), 1, "one plugin line:\n{}", out.stderr);
    assert!(
        errors[0].starts_with(&format!("[{PLUGIN}] error: ")) && errors[0].contains(needle),
        "expected {needle:?} in:\n{}",
        out.stderr
    );
    let last = out.stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with(&format!("wasm-credential-provider: {PLUGIN}: ")),
        "{}",
        out.stderr
    );
    out.assert_no_kubelet_secret();
}

// ---------------------------------------------------------------------------------------------
// SigV4 check of the fake ECR, written independently of the plugin's signer.

fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(block.map(|b| b ^ 0x36));
    inner.update(message);
    let mut outer = Sha256::new();
    outer.update(block.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

fn aws_encode(text: &str, slash: bool) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            b'/' if slash => "/".to_owned(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Recomputes the `Authorization` signature of `e` (header variant) with the secret of the
/// access key it names, and compares. Checks the scope's region and service, that the signed
/// headers cover `host`, `x-amz-date`, `x-amz-target`, `content-type` and a session token when
/// one is sent, and (when `check_clock`, for live ECR calls) that `x-amz-date` is within 15
/// minutes of now and `x-amz-target` and `content-type` are signed.
fn verify_sigv4(
    e: &Exchange,
    service: &str,
    region: &str,
    secrets: &[(&str, &str)],
    check_clock: bool,
) -> Result<(), String> {
    let authorization = e.header("authorization").ok_or("no Authorization header")?;
    let fields = authorization
        .strip_prefix("AWS4-HMAC-SHA256 ")
        .ok_or("not AWS4-HMAC-SHA256")?;
    let field = |name: &str| {
        fields
            .split(',')
            .map(str::trim)
            .find_map(|f| f.strip_prefix(name))
            .ok_or(format!("no {name} in Authorization"))
    };
    let credential: Vec<&str> = field("Credential=")?.split('/').collect();
    let signed_headers = field("SignedHeaders=")?;
    let signature = field("Signature=")?;
    let [
        access_key,
        date,
        scope_region,
        scope_service,
        "aws4_request",
    ] = credential[..]
    else {
        return Err("malformed Credential".into());
    };
    if (scope_region, scope_service) != (region, service) {
        return Err(format!(
            "scope {scope_region}/{scope_service}, expected {region}/{service}"
        ));
    }
    let secret = secrets
        .iter()
        .find(|(k, _)| *k == access_key)
        .map(|(_, s)| *s)
        .ok_or("unknown access key")?;
    let amz_date = e.header("x-amz-date").ok_or("no X-Amz-Date")?;
    if !amz_date.starts_with(date) || amz_date.len() != 16 {
        return Err("X-Amz-Date does not match the credential scope".into());
    }
    if check_clock {
        let now = now_amz_date();
        // Same day, and HHMMSS within 15 minutes (the test never runs across midnight for long).
        let secs = |d: &str| -> i64 {
            let t = &d[9..15];
            t[0..2].parse::<i64>().unwrap_or(0) * 3600
                + t[2..4].parse::<i64>().unwrap_or(0) * 60
                + t[4..6].parse::<i64>().unwrap_or(0)
        };
        if now[..8] != amz_date[..8] || (secs(&now) - secs(amz_date)).abs() > 900 {
            return Err(format!("X-Amz-Date {amz_date} is too far from now {now}"));
        }
    }
    let names: Vec<&str> = signed_headers.split(';').collect();
    let mut required = vec!["host", "x-amz-date"];
    if check_clock {
        // A live ECR call (the published vectors sign only host and date).
        required.extend(["x-amz-target", "content-type"]);
    }
    if e.header("x-amz-security-token").is_some() {
        required.push("x-amz-security-token");
    }
    for name in required {
        if !names.contains(&name) {
            return Err(format!("{name} is not signed"));
        }
    }
    let mut sorted = names.clone();
    sorted.sort_unstable();
    if sorted != names {
        return Err("SignedHeaders not sorted".into());
    }
    let mut canonical = format!("{}\n{}\n", e.method, aws_encode(&e.path, true));
    let mut query: Vec<String> = e
        .query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            format!("{}={}", aws_encode(k, false), aws_encode(v, false))
        })
        .collect();
    query.sort();
    canonical.push_str(&query.join("&"));
    canonical.push('\n');
    for name in &names {
        let values: Vec<String> = e
            .headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        if values.is_empty() {
            return Err(format!("signed header {name} was not received"));
        }
        canonical.push_str(&format!("{name}:{}\n", values.join(",")));
    }
    canonical.push_str(&format!(
        "\n{signed_headers}\n{}",
        hex::encode(Sha256::digest(&e.body))
    ));
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{date}/{region}/{service}/aws4_request\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let mut key = hmac_sha256(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    for part in [region, service, "aws4_request"] {
        key = hmac_sha256(&key, part.as_bytes());
    }
    let expected = hex::encode(hmac_sha256(&key, string_to_sign.as_bytes()));
    if expected == signature {
        Ok(())
    } else {
        Err("The request signature we calculated does not match the signature you provided.".into())
    }
}

/// Now as `YYYYMMDDTHHMMSSZ`.
fn now_amz_date() -> String {
    let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    time::OffsetDateTime::now_utc().format(&format).unwrap()
}

#[test]
fn sigv4_verifier_matches_aws_published_vector() {
    // AWS's signing test suite, `get-vanilla` and `get-vanilla-with-session-token`
    // (example-plugins/ecr/testdata/sigv4/).
    let exchange = |token: Option<&str>, signed: &str, signature: &str| {
        let mut headers = vec![
            ("host".to_owned(), "example.amazonaws.com".to_owned()),
            ("x-amz-date".to_owned(), "20150830T123600Z".to_owned()),
        ];
        if let Some(token) = token {
            headers.push(("x-amz-security-token".to_owned(), token.to_owned()));
        }
        headers.push((
            "authorization".to_owned(),
            format!(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders={signed}, Signature={signature}"
            ),
        ));
        Exchange {
            method: "GET".into(),
            host: "example.amazonaws.com".into(),
            path: "/".into(),
            query: String::new(),
            headers,
            body: Vec::new(),
            head: String::new(),
        }
    };
    let secrets = [("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")];
    let vanilla = exchange(
        None,
        "host;x-amz-date",
        "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
    );
    assert_eq!(
        verify_sigv4(&vanilla, "service", "us-east-1", &secrets, false),
        Ok(())
    );
    let with_token = exchange(
        Some("6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267"),
        "host;x-amz-date;x-amz-security-token",
        "07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8",
    );
    assert_eq!(
        verify_sigv4(&with_token, "service", "us-east-1", &secrets, false),
        Ok(())
    );
    // One changed signature digit, or another secret, fails.
    let tampered = exchange(
        None,
        "host;x-amz-date",
        "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf30",
    );
    assert!(verify_sigv4(&tampered, "service", "us-east-1", &secrets, false).is_err());
    let wrong = [("AKIDEXAMPLE", "not-the-secret")];
    assert!(verify_sigv4(&vanilla, "service", "us-east-1", &wrong, false).is_err());
    assert!(verify_sigv4(&vanilla, "ecr", "us-east-1", &secrets, false).is_err());
}

// ---------------------------------------------------------------------------------------------
// The README is the configuration the tests use.

/// The `--allow-http=` and `--env=` args of provider `name` in the README's YAML.
fn readme_args(name: &str) -> Vec<String> {
    let mut inside = false;
    let mut args = Vec::new();
    for line in README.lines() {
        let line = line.trim();
        if let Some(provider) = line.strip_prefix("- name: ") {
            inside = provider == name;
            continue;
        }
        if line.starts_with("```") {
            inside = false;
        }
        if let Some(arg) = line.strip_prefix("- ")
            && inside
            && (arg.starts_with("--allow-http=") || arg.starts_with("--env="))
        {
            args.push(arg.to_owned());
        }
    }
    args
}

fn allow_and_env(args: &[&str]) -> Vec<String> {
    args.iter()
        .filter(|a| a.starts_with("--allow-http=") || a.starts_with("--env="))
        .map(|a| a.to_string())
        .collect()
}

#[test]
fn readme_allow_lists_are_the_tested_ones() {
    assert_eq!(
        readme_args("ecr-credential-provider"),
        allow_and_env(&NODE_ARGS)
    );
    assert_eq!(
        readme_args("ecr-credential-provider-irsa"),
        allow_and_env(&IRSA_ARGS)
    );
    for arg in NODE_ARGS.iter().chain(&IRSA_ARGS) {
        if !arg.starts_with("--timeout") {
            assert!(
                README.contains(&format!("- {arg}\n")),
                "{arg} in the README"
            );
        }
    }
    for env in ENDPOINT_ENV {
        assert!(README.contains(env), "{env} documented in the README");
    }
    assert!(
        !README.contains("MEASUREMENTS"),
        "README measurements filled in"
    );
}

// ---------------------------------------------------------------------------------------------
// Happy paths.

#[test]
fn private_ecr_with_env_keys_signature_verified() {
    let aws = FakeAws::start();
    let ca = aws.ca_arg();
    let out = run(
        &node_args(&[&ca]),
        &request(V1, IMAGE),
        &aws.env(&keys_env()),
    );
    let duration = assert_ecr_credential(&out, REGISTRY).expect("cacheDuration");
    let secs = go_secs(&duration);
    assert!((21_590..=21_600).contains(&secs), "half of 12h: {duration}");
    let received = aws.ecr_requests();
    assert_eq!(received.len(), 1);
    let e = &received[0];
    assert_eq!(
        (e.method.as_str(), e.host.as_str(), e.path.as_str()),
        ("POST", ECR_HOST, "/")
    );
    assert_eq!(
        e.header("x-amz-target"),
        Some("AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken")
    );
    assert_eq!(e.header("content-type"), Some("application/x-amz-json-1.1"));
    assert_eq!(e.body_text(), "{}");
    e.assert_framed_by_length();
    assert!(e.header("x-amz-security-token").is_none());
    assert_eq!(*aws.verdicts.lock().unwrap(), [Ok(())]);
    assert!(
        aws.imds.received().is_empty(),
        "no instance metadata with env keys"
    );
    assert_eq!(
        aws.proxy.received(),
        [format!("CONNECT {ECR_HOST}:443 HTTP/1.1")]
    );
}

#[test]
fn private_ecr_with_session_token() {
    let aws = FakeAws::start();
    let ca = aws.ca_arg();
    let mut env = keys_env().to_vec();
    env.push(("AWS_SESSION_TOKEN", SESSION_TOKEN));
    let out = run(&node_args(&[&ca]), &request(V1, IMAGE), &aws.env(&env));
    assert_ecr_credential(&out, REGISTRY);
    let e = &aws.ecr_requests()[0];
    assert_eq!(e.header("x-amz-security-token"), Some(SESSION_TOKEN));
    assert!(
        e.header("authorization").unwrap().contains(
            "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target,"
        )
    );
    assert_eq!(*aws.verdicts.lock().unwrap(), [Ok(())]);
}

#[test]
fn a_wrong_secret_fails_the_signature_check() {
    let aws = FakeAws::start();
    let ca = aws.ca_arg();
    let env = [
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
        ("AWS_SECRET_ACCESS_KEY", "not-the-right-secret"),
    ];
    let out = run(&node_args(&[&ca]), &request(V1, IMAGE), &aws.env(&env));
    assert_plugin_error(
        &out,
        "HTTP 403 InvalidSignatureException: The request signature we calculated does not match",
    );
    assert!(!out.stderr.contains("not-the-right-secret"));
    assert_eq!(aws.verdicts.lock().unwrap().len(), 1);
    assert!(aws.verdicts.lock().unwrap()[0].is_err());
}

#[test]
fn public_ecr() {
    let aws = FakeAws::start();
    let ca = aws.ca_arg();
    for (image, key) in [
        ("public.ecr.aws/team/app", "public.ecr.aws"),
        ("ecr-public.aws.com/team/app", "ecr-public.aws.com"),
    ] {
        let out = run(
            &node_args(&[&ca]),
            &request(V1, image),
            &aws.env(&keys_env()),
        );
        assert_ecr_credential(&out, key);
    }
    let received = aws.ecr_requests();
    assert_eq!(received.len(), 2);
    for e in &received {
        assert_eq!(e.host, ECR_PUBLIC_HOST);
        assert_eq!(
            e.header("x-amz-target"),
            Some("SpencerFrontendService.GetAuthorizationToken")
        );
        assert!(
            e.header("authorization")
                .unwrap()
                .contains("/us-east-1/ecr-public/aws4_request")
        );
    }
    assert_eq!(*aws.verdicts.lock().unwrap(), [Ok(()), Ok(())]);
}

#[test]
fn imds_v2_instance_role() {
    let aws = FakeAws::start();
    let ca = aws.ca_arg();
    let out = run(&node_args(&[&ca]), &request(V1, IMAGE), &aws.env(&[]));
    assert_ecr_credential(&out, REGISTRY);
    let imds = aws.imds.received();
    let calls: Vec<(&str, &str)> = imds
        .iter()
        .map(|e| (e.method.as_str(), e.path.as_str()))
        .collect();
    assert_eq!(
        calls,
        [
            ("PUT", "/latest/api/token"),
            ("GET", "/latest/meta-data/iam/security-credentials/"),
            (
                "GET",
                "/latest/meta-data/iam/security-credentials/eks-node-role"
            ),
        ]
    );
    assert!(imds.iter().all(|e| e.host == IMDS_IP));
    assert_eq!(
        imds[0].header("x-aws-ec2-metadata-token-ttl-seconds"),
        Some("21600")
    );
    assert_eq!(imds[0].header("x-aws-ec2-metadata-token"), None);
    for e in &imds[1..] {
        assert_eq!(e.header("x-aws-ec2-metadata-token"), Some(IMDS_TOKEN));
    }
    let e = &aws.ecr_requests()[0];
    assert!(
        e.header("authorization")
            .unwrap()
            .contains(&format!("Credential={IMDS_KEY}/"))
    );
    assert_eq!(e.header("x-amz-security-token"), Some(IMDS_SESSION));
    assert_eq!(*aws.verdicts.lock().unwrap(), [Ok(())]);

    // An image host without a region: the instance's region from instance metadata.
    let out = run(
        &node_args(&[&ca, "--allow-auth-key=registry.example"]),
        &request(V1, "registry.example/team/app"),
        &aws.env(&[]),
    );
    assert_ecr_credential(&out, "registry.example");
    assert_eq!(
        aws.imds.received()[4].path,
        "/latest/meta-data/placement/region"
    );
}

#[test]
fn sts_web_identity_with_annotation() {
    let aws = FakeAws::start();
    let ca = aws.ca_arg();
    let mut args = IRSA_ARGS.to_vec();
    args.push(&ca);
    let out = run(
        &args,
        &sa_request(IMAGE, json!({"eks.amazonaws.com/ecr-role-arn": ROLE_ARN})),
        &aws.env(&[]),
    );
    assert_ecr_credential(&out, REGISTRY);
    let sts = aws.tls.received_at(STS_HOST, "/");
    assert_eq!(sts.len(), 1);
    let e = &sts[0];
    assert_eq!(e.method, "POST");
    e.assert_framed_by_length();
    assert_eq!(
        e.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        e.form_value("Action").as_deref(),
        Some("AssumeRoleWithWebIdentity")
    );
    assert_eq!(e.form_value("Version").as_deref(), Some("2011-06-15"));
    assert_eq!(e.form_value("RoleArn").as_deref(), Some(ROLE_ARN));
    assert_eq!(
        e.form_value("RoleSessionName").as_deref(),
        Some("ecr-credential-provider")
    );
    assert_eq!(e.form_value("WebIdentityToken").as_deref(), Some(SA_TOKEN));
    assert!(
        e.header("authorization").is_none(),
        "STS web identity is unsigned"
    );
    let ecr = aws.ecr_requests();
    assert!(
        ecr[0]
            .header("authorization")
            .unwrap()
            .contains(&format!("Credential={STS_KEY}/"))
    );
    assert_eq!(ecr[0].header("x-amz-security-token"), Some(STS_SESSION));
    assert_eq!(*aws.verdicts.lock().unwrap(), [Ok(())]);
    assert!(aws.imds.received().is_empty());

    // The role from AWS_ECR_ROLE_ARN when the service account has no annotation.
    let out = run(
        &args,
        &sa_request("public.ecr.aws/x/y", json!({})),
        &aws.env(&[(
            "AWS_ECR_ROLE_ARN",
            "arn:aws:iam::123456789012:role/from-env",
        )]),
    );
    assert_ecr_credential(&out, "public.ecr.aws");
    let sts = aws.tls.received_at("sts.us-east-1.amazonaws.com", "/");
    assert_eq!(
        sts[0].form_value("RoleArn").as_deref(),
        Some("arn:aws:iam::123456789012:role/from-env")
    );
}

#[test]
fn endpoint_url_environment() {
    let aws = FakeAws::start();
    let ca = aws.ca_arg();
    let endpoint = format!("https://localhost:{}", aws.tls.port);
    let allow = format!("--allow-http=localhost:{}", aws.tls.port);
    let resolve = format!("--resolve=localhost:{}:127.0.0.1", aws.tls.port);
    let mut args = node_args(&[&ca, &allow, &resolve]);
    args.extend(ENDPOINT_ENV);
    // No proxy: the endpoint variables alone lead to the server.
    let mut env: Vec<(String, String)> = keys_env()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    env.push(("AWS_ENDPOINT_URL_ECR".into(), endpoint.clone()));
    let out = run(&args, &request(V1, IMAGE), &env);
    assert_ecr_credential(&out, REGISTRY);
    // ECR Public through the generic AWS_ENDPOINT_URL.
    env.pop();
    env.push(("AWS_ENDPOINT_URL".into(), format!("{endpoint}/")));
    let out = run(&args, &request(V1, "public.ecr.aws/a/b"), &env);
    assert_ecr_credential(&out, "public.ecr.aws");
    let received = aws.ecr_requests();
    assert_eq!(received.len(), 2);
    for e in &received {
        assert_eq!(e.host, "localhost");
        assert_eq!(
            e.header("host"),
            Some(format!("localhost:{}", aws.tls.port).as_str())
        );
    }
    assert_eq!(*aws.verdicts.lock().unwrap(), [Ok(()), Ok(())]);
    assert!(aws.proxy.received().is_empty());
}

#[test]
fn cache_duration_is_half_the_remaining_life() {
    let aws = FakeAws::start();
    let ca = aws.ca_arg();
    // Fractional epoch seconds, 1001.4 s from before the run: half of what is left when the
    // plugin looks at the clock, between the run's start and end, in whole seconds.
    let start = now_secs();
    let expires = start + 1001.4;
    aws.set(|s| s.ecr = ecr_reply(false, Some(json!(expires))));
    let out = run(
        &node_args(&[&ca]),
        &request(V1, IMAGE),
        &aws.env(&keys_env()),
    );
    let end = now_secs();
    let duration = assert_ecr_credential(&out, REGISTRY).expect("cacheDuration");
    let secs = go_secs(&duration) as f64;
    let (low, high) = (
        ((expires - end) / 2.0).floor(),
        ((expires - start) / 2.0).floor(),
    );
    assert!(
        low <= secs && secs <= high,
        "{duration} not in [{low}, {high}]"
    );
    assert_eq!(high, 500.0);
    // No expiresAt: "0s", do not cache.
    aws.set(|s| s.ecr = ecr_reply(false, None));
    let out = run(
        &node_args(&[&ca]),
        &request(V1, IMAGE),
        &aws.env(&keys_env()),
    );
    assert_eq!(assert_ecr_credential(&out, REGISTRY).as_deref(), Some("0s"));
}

#[test]
fn only_v1_requests() {
    let aws = FakeAws::start();
    let ca = aws.ca_arg();
    let out = run(
        &node_args(&[&ca]),
        &request(V1BETA1, IMAGE),
        &aws.env(&keys_env()),
    );
    assert_plugin_error(
        &out,
        "group version credentialprovider.kubelet.k8s.io/v1beta1 is not supported",
    );
    assert!(aws.tls.received().is_empty());
}

// ---------------------------------------------------------------------------------------------
// Error paths: one clear line from the plugin, non-zero exit.

#[test]
fn instance_metadata_down() {
    let aws = FakeAws::start();
    let ca = aws.ca_arg();
    // A port nobody listens on as the plain-HTTP proxy: connection refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://127.0.0.1:{}", closed.local_addr().unwrap().port());
    drop(closed);
    let mut env = aws.env(&[]);
    env.retain(|(k, _)| k != "HTTP_PROXY");
    env.push(("HTTP_PROXY".into(), dead));
    let out = run(&node_args(&[&ca]), &request(V1, IMAGE), &env);
    assert_plugin_error(
        &out,
        "no AWS credentials: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY are not set (grant them with --env) and instance metadata at http://169.254.169.254/latest/api/token is unreachable",
    );
    assert!(aws.tls.received().is_empty());
}

#[test]
fn expired_instance_credentials() {
    let aws = FakeAws::with_imds_credentials(json!({
        "Code": "Success",
        "AccessKeyId": IMDS_KEY,
        "SecretAccessKey": IMDS_SECRET,
        "Token": IMDS_SESSION,
        "Expiration": "2020-01-01T00:00:00Z",
    }));
    let ca = aws.ca_arg();
    let out = run(&node_args(&[&ca]), &request(V1, IMAGE), &aws.env(&[]));
    assert_plugin_error(
        &out,
        "the AWS credentials from instance metadata role eks-node-role expired at 2020-01-01T00:00:00Z",
    );
    assert!(aws.tls.received().is_empty());
}

#[test]
fn ecr_errors() {
    let aws = FakeAws::start();
    let ca = aws.ca_arg();
    let cases = [
        (
            Reply::json_as(
                403,
                "application/x-amz-json-1.1",
                &json!({
                    "__type": "AccessDeniedException",
                    "message": "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: ecr:GetAuthorizationToken"
                }),
            ),
            "ECR GetAuthorizationToken at https://api.ecr.us-west-2.amazonaws.com/ failed: HTTP 403 AccessDeniedException: User: arn:aws:iam::123456789012:user/ci is not authorized to perform: ecr:GetAuthorizationToken (credentials from the environment)",
        ),
        (
            Reply::text(200, "{\"authorizationData\": [ {"),
            "ECR GetAuthorizationToken at https://api.ecr.us-west-2.amazonaws.com/: the reply is not JSON",
        ),
        (
            Reply::json_as(
                200,
                "application/x-amz-json-1.1",
                &json!({"authorizationData": []}),
            ),
            "authorizationData is empty",
        ),
        (
            ecr_reply(false, Some(json!(now_secs() - 60.0))),
            "ECR answered with an authorization token that expired at ",
        ),
        (
            Reply::json_as(
                200,
                "application/x-amz-json-1.1",
                &json!({"authorizationData": [{"authorizationToken": base64(b"no-colon")}]}),
            ),
            "authorizationToken is not of the form username:password",
        ),
    ];
    for (reply, needle) in cases {
        aws.set(|s| s.ecr = reply);
        let out = run(
            &node_args(&[&ca]),
            &request(V1, IMAGE),
            &aws.env(&keys_env()),
        );
        assert_plugin_error(&out, needle);
        assert!(!out.stderr.contains(ECR_PASSWORD));
    }
}

#[test]
fn sts_refusal() {
    let aws = FakeAws::start();
    let ca = aws.ca_arg();
    aws.set(|s| {
        s.sts = Reply {
            status: 400,
            headers: vec![("Content-Type".into(), "text/xml".into())],
            body: b"<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type><Code>InvalidIdentityToken</Code><Message>No OpenIDConnect provider found in your account for https://oidc.example</Message></Error><RequestId>1</RequestId></ErrorResponse>".to_vec(),
        }
    });
    let mut args = IRSA_ARGS.to_vec();
    args.push(&ca);
    let out = run(
        &args,
        &sa_request(IMAGE, json!({"eks.amazonaws.com/ecr-role-arn": ROLE_ARN})),
        &aws.env(&[]),
    );
    assert_plugin_error(
        &out,
        "STS AssumeRoleWithWebIdentity at https://sts.us-west-2.amazonaws.com/ for role arn:aws:iam::123456789012:role/ecr-pull failed: HTTP 400 InvalidIdentityToken: No OpenIDConnect provider found",
    );
    assert!(aws.ecr_requests().is_empty());
}

// ---------------------------------------------------------------------------------------------
// The allow-list is what keeps the plugin in: one origin short and it is refused.

/// Non-zero exit, the host's egress audit line for `origin`, and the plugin saying so.
fn assert_denied(out: &Outcome, origin: &str) {
    assert!(!out.status.success(), "expected failure:\n{}", out.stderr);
    assert_eq!(out.stdout, "");
    let audits: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains("egress denied: "))
        .collect();
    assert_eq!(
        audits,
        [format!(
            "wasm-credential-provider: {PLUGIN}: egress denied: {origin} (not allowed by --allow-http)"
        )],
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .lines()
            .any(|l| l.starts_with(&format!("[{PLUGIN}] error: ")) && l.contains("--allow-http")),
        "{}",
        out.stderr
    );
}

#[test]
fn refused_when_the_allow_list_is_too_narrow() {
    let aws = FakeAws::start();
    let ca = aws.ca_arg();
    let without = |dropped: &str| -> Vec<&str> {
        let mut args: Vec<&str> = NODE_ARGS
            .iter()
            .copied()
            .filter(|a| *a != dropped)
            .collect();
        args.push(&ca);
        args
    };

    // No ECR API origin: the signed call never leaves the host.
    let out = run(
        &without("--allow-http=api.ecr.*.amazonaws.com"),
        &request(V1, IMAGE),
        &aws.env(&keys_env()),
    );
    assert_denied(&out, "https://api.ecr.us-west-2.amazonaws.com:443/");
    assert!(aws.tls.received().is_empty());
    assert!(aws.proxy.received().is_empty());

    // No role-credentials path: the token PUT is allowed, the role listing is not.
    let out = run(
        &without("--allow-http=http://169.254.169.254/latest/meta-data/iam/security-credentials"),
        &request(V1, IMAGE),
        &aws.env(&[]),
    );
    assert_denied(
        &out,
        "http://169.254.169.254:80/latest/meta-data/iam/security-credentials/",
    );
    assert_eq!(aws.imds.received().len(), 1, "only the token request left");

    // Token mode without STS.
    let irsa: Vec<&str> = IRSA_ARGS
        .iter()
        .copied()
        .filter(|a| *a != "--allow-http=sts.*.amazonaws.com")
        .chain([ca.as_str()])
        .collect();
    let out = run(
        &irsa,
        &sa_request(IMAGE, json!({"eks.amazonaws.com/ecr-role-arn": ROLE_ARN})),
        &aws.env(&[]),
    );
    assert_denied(&out, "https://sts.us-west-2.amazonaws.com:443/");
    assert!(aws.tls.received().is_empty());
}
