//! `ecr-credential-provider`: AWS ECR (private and public) credentials, as the kubelet's
//! `ecr-credential-provider` (kubernetes/cloud-provider-aws) gives them, from inside the sandbox.
//!
//! - **Which registry**: the image's host. `public.ecr.aws` and `ecr-public.aws.com` are ECR
//!   Public (API in `us-east-1`); anything else is private ECR, its region taken from hosts shaped
//!   `<account>.dkr.ecr[-fips].<region>.<suffix>` / `<account>.dkr-ecr[-fips].<region>.<suffix>`,
//!   else from `AWS_REGION`, `AWS_DEFAULT_REGION`, or instance metadata.
//! - **Credentials**: with a service-account token in the request and a role ARN (annotation
//!   `eks.amazonaws.com/ecr-role-arn`, else env `AWS_ECR_ROLE_ARN`), STS
//!   `AssumeRoleWithWebIdentity`; otherwise `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` /
//!   `AWS_SESSION_TOKEN`; otherwise the EC2 instance role through IMDSv2.
//! - **The call**: SigV4-signed `GetAuthorizationToken` (AWS JSON 1.1), at the real endpoints or
//!   at `AWS_ENDPOINT_URL_ECR`, `AWS_ENDPOINT_URL_ECR_PUBLIC`, `AWS_ENDPOINT_URL_STS`,
//!   `AWS_ENDPOINT_URL` as the AWS SDKs honour them.
//! - **The answer**: `cacheKeyType: Registry`, one `auth` key (the image's host name), user name
//!   and password from the token, `cacheDuration` half of the token's remaining life.
//!
//! Only `credentialprovider.kubelet.k8s.io/v1` requests are answered. Positional arguments (such
//! as the customary `get-credentials`) are accepted and ignored. The environment the plugin sees
//! is only what the host grants with `--env`; see `README.md` for the provider config.

mod aws;
mod hosts;
mod sigv4;
mod time;
mod xml;

use std::process::ExitCode;
use std::time::SystemTime;

use credential_provider_sdk::args::{Arg, Args};
use credential_provider_sdk::{
    ApiVersion, CacheKeyType, GoDuration, Request, Response, ResponseExt,
};

use aws::{Api, Aws};
use hosts::Registry;

/// Answers one request with `aws` (its environment, transport and clock).
fn provide(request: &Request, aws: &Aws<'_>) -> Result<Response, String> {
    if request.api_version != ApiVersion::V1 {
        return Err(format!(
            "group version {} is not supported",
            request.api_version
        ));
    }
    let host = hosts::image_host(&request.image);
    if host.is_empty() {
        return Err("the request's image has no host".into());
    }
    let (api, region, fips) = match hosts::classify(host) {
        Registry::Public => (Api::Public, "us-east-1".to_owned(), false),
        Registry::Private {
            region: Some(region),
            fips,
        } => (Api::Private, region, fips),
        Registry::Private { region: None, fips } => (Api::Private, aws.default_region()?, fips),
    };
    let token = request.service_account_token.as_ref().map(|t| t.expose());
    let annotation = request
        .service_account_annotations
        .get(aws::ROLE_ARN_ANNOTATION)
        .map(String::as_str);
    let creds = aws.credentials(token, annotation, &region)?;
    let auth = aws.get_authorization_token(api, &region, fips, &creds)?;
    let cache_duration = cache_duration(auth.expires_at, aws.now())?;
    let mut builder = Response::builder(request)
        .cache_key_type(CacheKeyType::Registry)
        .credential(host, auth.username, auth.password);
    if let Some(duration) = cache_duration {
        builder = builder.cache_duration(duration);
    }
    Ok(builder.build())
}

/// The real plugin's `cacheDuration`: half of the token's remaining life in whole seconds; `0s`
/// without `expiresAt`; omitted when that half rounds to nothing. A token already expired is an
/// error (the kubelet could not use it).
fn cache_duration(expires_at: Option<f64>, now: SystemTime) -> Result<Option<GoDuration>, String> {
    let Some(expires_at) = expires_at else {
        return Ok(Some(GoDuration::ZERO));
    };
    let expires_ms = (expires_at * 1000.0).floor() as i128;
    let remaining_ms = expires_ms - time::epoch_millis(now);
    if remaining_ms <= 0 {
        return Err(format!(
            "ECR answered with an authorization token that expired at {}",
            time::rfc3339(expires_at.floor() as i64)
        ));
    }
    let half_secs = remaining_ms / 2 / 1000;
    if half_secs <= 0 {
        return Ok(None);
    }
    Ok(Some(GoDuration::from_secs(
        i64::try_from(half_secs).unwrap_or(i64::MAX),
    )))
}

/// Checks the guest arguments as the real plugin's cobra command does: positional arguments
/// (the customary `get-credentials`) are accepted and ignored; it defines no options.
fn check_args(args: Args) -> Result<(), String> {
    let mut args = args;
    while let Some(arg) = args.next()? {
        match arg {
            Arg::Positional(_) => {}
            other => {
                return Err(format!(
                    "{} (the plugin takes no options; configure it with --env)",
                    other.unexpected()
                ));
            }
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    if let Err(err) = check_args(Args::from_env()) {
        eprintln!("error: {err}");
        return ExitCode::FAILURE;
    }
    let env = |name: &str| std::env::var(name).ok();
    let send = |request: &credential_provider_sdk::http::Request| request.clone().send();
    let aws = Aws::new(&env, &send, SystemTime::now());
    credential_provider_sdk::run(|request: &Request| provide(request, &aws))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use credential_provider_sdk::http::{
        HttpError, Request as HttpRequest, Response as HttpResponse,
    };
    use sigv4::{Scope, Signable, SigningKeys};
    use std::cell::RefCell;
    use std::collections::HashMap;

    const NOW: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z
    const PRIVATE: &str = "123456789012.dkr.ecr.us-west-2.amazonaws.com";

    fn reply(status: u16, body: &str) -> HttpResponse {
        HttpResponse {
            status,
            headers: Vec::new(),
            body: body.as_bytes().to_vec(),
        }
    }

    fn ecr_ok(expires: serde_json::Value) -> HttpResponse {
        let token = base64::engine::general_purpose::STANDARD.encode("AWS:pass:word");
        let body = serde_json::json!({"authorizationData": [
            {"authorizationToken": token, "expiresAt": expires, "proxyEndpoint": "https://x"}
        ]});
        reply(200, &body.to_string())
    }

    /// Runs `provide` for `request_json` with `env` and a fake transport answering with
    /// `answer`; returns the result and every request sent.
    fn run(
        request_json: &str,
        env: &[(&str, &str)],
        answer: impl Fn(&HttpRequest) -> Result<HttpResponse, HttpError>,
    ) -> (Result<String, String>, Vec<HttpRequest>) {
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let read = move |name: &str| env.get(name).cloned();
        let sent = RefCell::new(Vec::new());
        let send = |r: &HttpRequest| {
            sent.borrow_mut().push(r.clone());
            answer(r)
        };
        let aws = Aws::new(&read, &send, time::from_epoch_seconds(NOW));
        let out = credential_provider_sdk::handle(request_json.as_bytes(), |r: &Request| {
            provide(r, &aws)
        });
        (out, sent.into_inner())
    }

    fn request(image: &str) -> String {
        format!(
            r#"{{"kind":"CredentialProviderRequest","apiVersion":"credentialprovider.kubelet.k8s.io/v1","image":"{image}"}}"#
        )
    }

    const KEYS: [(&str, &str); 2] = [
        ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
        (
            "AWS_SECRET_ACCESS_KEY",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        ),
    ];

    fn header<'r>(r: &'r HttpRequest, name: &str) -> Option<&'r str> {
        r.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn private_ecr_with_env_keys() {
        let (out, sent) = run(&request(&format!("{PRIVATE}/team/app")), &KEYS, |_| {
            Ok(ecr_ok(serde_json::json!(NOW + 43_200)))
        });
        let json: serde_json::Value = serde_json::from_str(&out.unwrap()).unwrap();
        assert_eq!(json["cacheKeyType"], "Registry");
        assert_eq!(json["cacheDuration"], "6h0m0s");
        assert_eq!(json["auth"][PRIVATE]["username"], "AWS");
        assert_eq!(json["auth"][PRIVATE]["password"], "pass:word");
        assert_eq!(sent.len(), 1);
        let r = &sent[0];
        assert_eq!(r.url, "https://api.ecr.us-west-2.amazonaws.com/");
        assert_eq!(r.body, b"{}");
        assert_eq!(
            header(r, "x-amz-target"),
            Some("AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken")
        );
        assert_eq!(header(r, "x-amz-date"), Some("20260101T000000Z"));
        let auth = header(r, "authorization").unwrap();
        assert!(auth.starts_with(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-west-2/ecr/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature="
        ), "{auth}");
        assert_eq!(header(r, "x-amz-security-token"), None);
    }

    #[test]
    fn public_ecr_and_session_token() {
        let env = [KEYS[0], KEYS[1], ("AWS_SESSION_TOKEN", "sess")];
        let (out, sent) = run(&request("public.ecr.aws/team/app"), &env, |_| {
            let token = base64::engine::general_purpose::STANDARD.encode("AWS:pw");
            Ok(reply(
                200,
                &serde_json::json!({"authorizationData": {"authorizationToken": token, "expiresAt": NOW as f64 + 100.5}})
                    .to_string(),
            ))
        });
        let json: serde_json::Value = serde_json::from_str(&out.unwrap()).unwrap();
        assert_eq!(json["auth"]["public.ecr.aws"]["password"], "pw");
        assert_eq!(json["cacheDuration"], "50s");
        let r = &sent[0];
        assert_eq!(r.url, "https://api.ecr-public.us-east-1.amazonaws.com/");
        assert_eq!(
            header(r, "x-amz-target"),
            Some("SpencerFrontendService.GetAuthorizationToken")
        );
        assert_eq!(header(r, "x-amz-security-token"), Some("sess"));
        assert!(
            header(r, "authorization")
                .unwrap()
                .contains("/us-east-1/ecr-public/aws4_request")
        );
    }

    #[test]
    fn cache_durations() {
        let now = time::from_epoch_seconds(NOW);
        assert_eq!(cache_duration(None, now), Ok(Some(GoDuration::ZERO)));
        assert_eq!(
            cache_duration(Some(NOW as f64 + 7.0), now),
            Ok(Some(GoDuration::from_secs(3)))
        );
        assert_eq!(cache_duration(Some(NOW as f64 + 1.5), now), Ok(None));
        assert!(
            cache_duration(Some(NOW as f64), now)
                .unwrap_err()
                .contains("expired")
        );
        assert!(cache_duration(Some(NOW as f64 - 5.0), now).is_err());
    }

    #[test]
    fn imds_v2_flow() {
        let (out, sent) = run(
            &request("123456789012.dkr.ecr.eu-west-1.amazonaws.com/x"),
            &[],
            |r| {
                Ok(match (r.method.as_str(), r.url.as_str()) {
                    ("PUT", "http://169.254.169.254/latest/api/token") => reply(200, "imds-tok"),
                    (
                        "GET",
                        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
                    ) => reply(200, "node-role\n"),
                    (
                        "GET",
                        "http://169.254.169.254/latest/meta-data/iam/security-credentials/node-role",
                    ) => reply(
                        200,
                        r#"{"Code":"Success","AccessKeyId":"ASIAX","SecretAccessKey":"s","Token":"t","Expiration":"2026-01-01T06:00:00Z"}"#,
                    ),
                    _ => ecr_ok(serde_json::json!(NOW + 3600)),
                })
            },
        );
        out.unwrap();
        assert_eq!(sent.len(), 4);
        assert_eq!(
            header(&sent[0], "x-aws-ec2-metadata-token-ttl-seconds"),
            Some("21600")
        );
        for r in &sent[1..3] {
            assert_eq!(header(r, "x-aws-ec2-metadata-token"), Some("imds-tok"));
        }
        assert_eq!(header(&sent[3], "x-amz-security-token"), Some("t"));
        assert!(
            header(&sent[3], "authorization")
                .unwrap()
                .contains("Credential=ASIAX/")
        );
    }

    #[test]
    fn region_from_env_then_imds() {
        let env = [KEYS[0], KEYS[1], ("AWS_DEFAULT_REGION", "ap-south-1")];
        let (_, sent) = run(&request("registry.example/x"), &env, |_| {
            Ok(ecr_ok(serde_json::json!(NOW + 3600)))
        });
        assert_eq!(sent[0].url, "https://api.ecr.ap-south-1.amazonaws.com/");
        let (out, sent) = run(&request("registry.example/x"), &KEYS, |r| {
            Ok(match r.url.as_str() {
                "http://169.254.169.254/latest/api/token" => reply(200, "t"),
                "http://169.254.169.254/latest/meta-data/placement/region" => {
                    reply(200, "sa-east-1")
                }
                _ => ecr_ok(serde_json::json!(NOW + 3600)),
            })
        });
        let json: serde_json::Value = serde_json::from_str(&out.unwrap()).unwrap();
        assert!(json["auth"]["registry.example"].is_object());
        assert_eq!(sent[2].url, "https://api.ecr.sa-east-1.amazonaws.com/");
        let (out, _) = run(&request("registry.example/x"), &KEYS, |_| {
            Err(HttpError::Transport("connection refused".into()))
        });
        assert!(out.unwrap_err().contains("no AWS region"));
    }

    #[test]
    fn web_identity_with_annotation() {
        let req = format!(
            r#"{{"kind":"CredentialProviderRequest","apiVersion":"credentialprovider.kubelet.k8s.io/v1","image":"{PRIVATE}/x","serviceAccountToken":"sa.jwt+/=","serviceAccountAnnotations":{{"eks.amazonaws.com/ecr-role-arn":"arn:aws:iam::123456789012:role/pull"}}}}"#
        );
        let (out, sent) = run(&req, &KEYS, |r| {
            Ok(if r.url.starts_with("https://sts.") {
                reply(
                    200,
                    "<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult><Credentials><AccessKeyId>ASIASTS</AccessKeyId><SecretAccessKey>x</SecretAccessKey><SessionToken>st</SessionToken><Expiration>2026-01-01T01:00:00Z</Expiration></Credentials></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>",
                )
            } else {
                ecr_ok(serde_json::json!(NOW + 3600))
            })
        });
        out.unwrap();
        assert_eq!(sent[0].url, "https://sts.us-west-2.amazonaws.com/");
        let body = String::from_utf8(sent[0].body.clone()).unwrap();
        assert_eq!(
            body,
            "Action=AssumeRoleWithWebIdentity&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fpull&RoleSessionName=ecr-credential-provider&Version=2011-06-15&WebIdentityToken=sa.jwt%2B%2F%3D"
        );
        assert_eq!(header(&sent[0], "authorization"), None);
        assert!(
            header(&sent[1], "authorization")
                .unwrap()
                .contains("Credential=ASIASTS/")
        );
    }

    #[test]
    fn endpoint_overrides() {
        let env = [
            KEYS[0],
            KEYS[1],
            ("AWS_ENDPOINT_URL", "https://fallback.example"),
            ("AWS_ENDPOINT_URL_ECR", "https://localhost:8443/"),
        ];
        let (_, sent) = run(&request(&format!("{PRIVATE}/x")), &env, |_| {
            Ok(ecr_ok(serde_json::json!(NOW + 3600)))
        });
        assert_eq!(sent[0].url, "https://localhost:8443/");
        let (_, sent) = run(&request("public.ecr.aws/x"), &env, |_| {
            Ok(ecr_ok(serde_json::json!(NOW + 3600)))
        });
        assert_eq!(sent[0].url, "https://fallback.example/");
        let mut ignored = env.to_vec();
        ignored.push(("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true"));
        let (_, sent) = run(&request(&format!("{PRIVATE}/x")), &ignored, |_| {
            Ok(ecr_ok(serde_json::json!(NOW + 3600)))
        });
        assert_eq!(sent[0].url, "https://api.ecr.us-west-2.amazonaws.com/");
        let bad = [KEYS[0], KEYS[1], ("AWS_ENDPOINT_URL_ECR", "ftp://x")];
        let (out, _) = run(&request(&format!("{PRIVATE}/x")), &bad, |_| unreachable!());
        assert!(out.unwrap_err().contains("AWS_ENDPOINT_URL_ECR"));
    }

    type Answer = Box<dyn Fn(&HttpRequest) -> Result<HttpResponse, HttpError>>;

    #[test]
    fn errors_are_clear_and_secret_free() {
        let image = request(&format!("{PRIVATE}/x"));
        let secret = KEYS[1].1;
        let cases: Vec<(Answer, &str)> = vec![
            (
                Box::new(|_| {
                    Ok(reply(
                        403,
                        r#"{"__type":"AccessDeniedException","message":"User is not authorized"}"#,
                    ))
                }),
                "HTTP 403 AccessDeniedException: User is not authorized",
            ),
            (Box::new(|_| Ok(reply(200, "{not json"))), "not JSON"),
            (
                Box::new(|_| Ok(reply(200, r#"{"authorizationData":[]}"#))),
                "authorizationData is empty",
            ),
            (
                Box::new(|_| Ok(reply(200, r#"{}"#))),
                "no authorizationData",
            ),
            (
                Box::new(|_| {
                    Ok(reply(
                        200,
                        r#"{"authorizationData":[{"authorizationToken":"%%%"}]}"#,
                    ))
                }),
                "not base64",
            ),
            (
                Box::new(|_| Ok(ecr_ok(serde_json::json!(NOW - 1)))),
                "expired",
            ),
            (
                Box::new(|_| Ok(ecr_ok(serde_json::json!("soon")))),
                "expiresAt is not a number",
            ),
            (
                Box::new(|_| Err(HttpError::Denied("x".into()))),
                "refused the request to ECR",
            ),
        ];
        for (answer, needle) in cases {
            let (out, _) = run(&image, &KEYS, answer);
            let err = out.unwrap_err();
            assert!(err.contains(needle), "{err:?} lacks {needle:?}");
            assert!(!err.contains(secret) && !err.contains('\n'), "{err}");
        }
    }

    #[test]
    fn credential_errors() {
        let image = request(&format!("{PRIVATE}/x"));
        let (out, _) = run(&image, &[], |_| {
            Err(HttpError::Transport("connection refused".into()))
        });
        let err = out.unwrap_err();
        assert!(
            err.starts_with("no AWS credentials") && err.contains("169.254.169.254"),
            "{err}"
        );
        let (out, _) = run(&image, &[KEYS[0]], |_| unreachable!());
        assert!(out.unwrap_err().contains("AWS_SECRET_ACCESS_KEY is not"));
        let (out, _) = run(
            &image,
            &[("AWS_EC2_METADATA_DISABLED", "true")],
            |_| unreachable!(),
        );
        assert!(out.unwrap_err().contains("disabled"));
        // Expired instance credentials.
        let (out, _) = run(&image, &[], |r| {
            Ok(match r.url.as_str() {
                u if u.ends_with("/token") => reply(200, "t"),
                u if u.ends_with("/security-credentials/") => reply(200, "role"),
                _ => reply(
                    200,
                    r#"{"Code":"Success","AccessKeyId":"A","SecretAccessKey":"S","Token":"T","Expiration":"2025-12-31T00:00:00Z"}"#,
                ),
            })
        });
        assert!(out.unwrap_err().contains("expired at 2025-12-31T00:00:00Z"));
        // STS refusal.
        let req = format!(
            r#"{{"kind":"CredentialProviderRequest","apiVersion":"credentialprovider.kubelet.k8s.io/v1","image":"{PRIVATE}/x","serviceAccountToken":"jwt-secret"}}"#
        );
        let env = [("AWS_ECR_ROLE_ARN", "arn:aws:iam::1:role/r")];
        let (out, _) = run(&req, &env, |_| {
            Ok(reply(
                400,
                "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidIdentityToken</Code><Message>bad token</Message></Error></ErrorResponse>",
            ))
        });
        let err = out.unwrap_err();
        assert!(
            err.contains("HTTP 400 InvalidIdentityToken: bad token"),
            "{err}"
        );
        assert!(!err.contains("jwt-secret"));
    }

    #[test]
    fn arguments_are_positional_only() {
        assert_eq!(check_args(Args::new(["get-credentials", "extra"])), Ok(()));
        assert_eq!(check_args(Args::new(["--", "--region"])), Ok(()));
        let err = check_args(Args::new(["get-credentials", "--region=us-east-1"])).unwrap_err();
        assert!(err.starts_with("unknown option --region"), "{err}");
        assert!(check_args(Args::new(["-v"])).is_err());
    }

    #[test]
    fn signs_the_host_the_request_carries() {
        // An endpoint written with the default port and capitals: the wire `host` is
        // `localhost`, and the signature must cover that, not the text as written.
        let env = [
            KEYS[0],
            KEYS[1],
            ("AWS_ENDPOINT_URL_ECR", "https://LocalHost:443"),
        ];
        let (_, sent) = run(&request(&format!("{PRIVATE}/x")), &env, |_| {
            Ok(ecr_ok(serde_json::json!(NOW + 3600)))
        });
        let target = credential_provider_sdk::http::Target::parse(&sent[0].url).unwrap();
        assert_eq!(target.authority, "localhost");
        let scope = Scope {
            region: "us-west-2",
            service: "ecr",
            amz_date: "20260101T000000Z",
            content_sha256_header: false,
        };
        let added = sigv4::sign(
            &Signable {
                method: "POST",
                path: "/",
                query: "",
                headers: &[
                    ("host".into(), "localhost".into()),
                    ("content-type".into(), "application/x-amz-json-1.1".into()),
                    (
                        "x-amz-target".into(),
                        "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken".into(),
                    ),
                ],
                body: b"{}",
            },
            &scope,
            &SigningKeys {
                access_key_id: KEYS[0].1.into(),
                secret_access_key: KEYS[1].1.into(),
                session_token: None,
            },
        );
        let expected = added
            .iter()
            .find(|(n, _)| n == "authorization")
            .map(|(_, v)| v.as_str());
        assert_eq!(header(&sent[0], "authorization"), expected);
    }

    #[test]
    fn only_v1() {
        let req = r#"{"kind":"CredentialProviderRequest","apiVersion":"credentialprovider.kubelet.k8s.io/v1beta1","image":"public.ecr.aws/x"}"#;
        let (out, sent) = run(req, &KEYS, |_| unreachable!());
        assert_eq!(
            out.unwrap_err(),
            "group version credentialprovider.kubelet.k8s.io/v1beta1 is not supported"
        );
        assert!(sent.is_empty());
    }
}
