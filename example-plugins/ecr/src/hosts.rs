//! Which registry an image is in, and the AWS endpoints that serve it.

/// The hosts of ECR Public.
pub const PUBLIC_HOSTS: [&str; 2] = ["public.ecr.aws", "ecr-public.aws.com"];

/// The DNS suffixes of private ECR registry hosts (the real plugin's list).
const PRIVATE_SUFFIXES: [&str; 9] = [
    "amazonaws.com",
    "amazonaws.com.cn",
    "amazonaws.eu",
    "on.aws",
    "on.amazonwebservices.com.cn",
    "sc2s.sgov.gov",
    "c2s.ic.gov",
    "cloud.adc-e.uk",
    "csp.hci.ic.gov",
];

/// What kind of registry an image host is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Registry {
    /// ECR Public (`public.ecr.aws`): always `us-east-1`.
    Public,
    /// A private registry; the region when the host names one.
    Private {
        /// The region in `<account>.dkr.ecr.<region>.<suffix>`.
        region: Option<String>,
        /// The host is a FIPS one (`dkr.ecr-fips`, `dkr-ecr-fips`).
        fips: bool,
    },
}

/// The host name of an image (`host[:port]/path` → `host`), as the real plugin keys its answer.
pub fn image_host(image: &str) -> &str {
    let authority = image.split('/').next().unwrap_or(image);
    if let Some(v6) = authority.strip_prefix('[') {
        return v6.split(']').next().unwrap_or(v6);
    }
    authority.split(':').next().unwrap_or(authority)
}

/// Classifies an image host.
pub fn classify(host: &str) -> Registry {
    if PUBLIC_HOSTS.iter().any(|p| p.eq_ignore_ascii_case(host)) {
        return Registry::Public;
    }
    match parse_private(host) {
        Some((region, fips)) => Registry::Private {
            region: Some(region),
            fips,
        },
        None => Registry::Private {
            region: None,
            fips: false,
        },
    }
}

/// `<12 digits>.dkr.ecr[-fips].<region>.<suffix>` or `<12 digits>.dkr-ecr[-fips].<region>.<suffix>`:
/// the region and whether it is FIPS.
fn parse_private(host: &str) -> Option<(String, bool)> {
    let host = host.to_ascii_lowercase();
    let (account, rest) = host.split_once('.')?;
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (kind, rest) = rest.split_once('.')?;
    let (service, rest) = if kind == "dkr" {
        // `dkr.ecr[-fips].`
        rest.split_once('.')?
    } else {
        (kind.strip_prefix("dkr-")?, rest)
    };
    let fips = match service {
        "ecr" => false,
        "ecr-fips" => true,
        _ => return None,
    };
    let (region, suffix) = rest.split_once('.')?;
    if !is_region(region) || !PRIVATE_SUFFIXES.contains(&suffix) {
        return None;
    }
    Some((region.to_owned(), fips))
}

/// A region name safe to put in a host name: `[a-zA-Z0-9][a-zA-Z0-9-]*`, at most 63
/// characters (the real plugin's pattern, less `_`, which no DNS label has).
pub fn is_region(region: &str) -> bool {
    let mut bytes = region.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphanumeric())
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && region.len() <= 63
}

/// The DNS suffix of the partition a region is in (the SDKs' endpoint rules).
pub fn dns_suffix(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else if region.starts_with("us-isob-") {
        "sc2s.sgov.gov"
    } else if region.starts_with("us-isof-") {
        "csp.hci.ic.gov"
    } else if region.starts_with("us-iso-") {
        "c2s.ic.gov"
    } else if region.starts_with("eu-isoe-") {
        "cloud.adc-e.uk"
    } else if region.starts_with("eusc-") {
        "amazonaws.eu"
    } else {
        "amazonaws.com"
    }
}

/// The default ECR API endpoint of `region` (`https://api.ecr.<region>.<suffix>`, or
/// `https://ecr-fips.<region>.<suffix>` for FIPS).
pub fn ecr_endpoint(region: &str, fips: bool) -> String {
    let suffix = dns_suffix(region);
    if fips {
        format!("https://ecr-fips.{region}.{suffix}")
    } else {
        format!("https://api.ecr.{region}.{suffix}")
    }
}

/// The ECR Public API endpoint.
pub const ECR_PUBLIC_ENDPOINT: &str = "https://api.ecr-public.us-east-1.amazonaws.com";

/// The regional STS endpoint of `region`.
pub fn sts_endpoint(region: &str) -> String {
    format!("https://sts.{region}.{}", dns_suffix(region))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn private(region: &str, fips: bool) -> Registry {
        Registry::Private {
            region: Some(region.to_owned()),
            fips,
        }
    }

    #[test]
    fn classifies_the_real_plugins_hosts() {
        assert_eq!(classify("public.ecr.aws"), Registry::Public);
        assert_eq!(classify("ecr-public.aws.com"), Registry::Public);
        let cases = [
            (
                "123456789012.dkr.ecr.us-west-2.amazonaws.com",
                "us-west-2",
                false,
            ),
            (
                "123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com",
                "us-gov-west-1",
                true,
            ),
            ("123456789012.dkr-ecr.eu-west-1.on.aws", "eu-west-1", false),
            (
                "123456789012.dkr-ecr-fips.us-east-1.on.aws",
                "us-east-1",
                true,
            ),
            (
                "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn",
                "cn-north-1",
                false,
            ),
            (
                "123456789012.dkr-ecr.cn-northwest-1.on.amazonwebservices.com.cn",
                "cn-northwest-1",
                false,
            ),
            (
                "123456789012.dkr.ecr.eusc-de-east-1.amazonaws.eu",
                "eusc-de-east-1",
                false,
            ),
            (
                "123456789012.dkr.ecr.us-iso-east-1.c2s.ic.gov",
                "us-iso-east-1",
                false,
            ),
            (
                "123456789012.dkr.ecr.us-isob-east-1.sc2s.sgov.gov",
                "us-isob-east-1",
                false,
            ),
            (
                "123456789012.dkr.ecr.eu-isoe-west-1.cloud.adc-e.uk",
                "eu-isoe-west-1",
                false,
            ),
            (
                "123456789012.dkr.ecr.us-isof-south-1.csp.hci.ic.gov",
                "us-isof-south-1",
                false,
            ),
        ];
        for (host, region, fips) in cases {
            assert_eq!(classify(host), private(region, fips), "{host}");
        }
        for other in [
            "12345678901.dkr.ecr.us-west-2.amazonaws.com",
            "123456789012.dkr.ecr.us-west-2.example.com",
            "123456789012.dkr.ecs.us-west-2.amazonaws.com",
            "123456789012.dkr-ecs.us-west-2.on.aws",
            "123456789012.dkr.ecr..amazonaws.com",
            "123456789012.dkr.ecr.us.west.amazonaws.com",
            "registry.example.com",
            "",
        ] {
            assert_eq!(
                classify(other),
                Registry::Private {
                    region: None,
                    fips: false
                },
                "{other}"
            );
        }
    }

    const README: &str = include_str!("../README.md");

    /// The `- ITEM` lines under `key:` (quotes removed), or the `- --flag=VALUE` values, of
    /// provider `name` in the README's configs.
    fn readme_list(name: &str, key: Option<&str>, flag: Option<&str>) -> Vec<String> {
        let mut out = Vec::new();
        let (mut provider, mut under) = (false, false);
        for line in README.lines() {
            let trimmed = line.trim();
            if let Some(p) = trimmed.strip_prefix("- name: ") {
                provider = p == name;
                continue;
            }
            if trimmed.starts_with("```") {
                provider = false;
            }
            if !provider {
                continue;
            }
            if let Some(item) = trimmed.strip_prefix("- ") {
                if let Some(value) = flag.and_then(|f| item.strip_prefix(f)) {
                    out.push(value.to_owned());
                } else if under {
                    out.push(item.trim_matches('"').to_owned());
                }
            } else {
                under = key.is_some_and(|k| trimmed == format!("{k}:"));
            }
        }
        out
    }

    /// A region of the partition a pattern's suffix belongs to.
    fn region_for(pattern: &str) -> &'static str {
        [
            (".amazonaws.com.cn", "cn-north-1"),
            (".amazonwebservices.com.cn", "cn-northwest-1"),
            (".amazonaws.eu", "eusc-de-east-1"),
            (".sc2s.sgov.gov", "us-isob-east-1"),
            (".c2s.ic.gov", "us-iso-east-1"),
            (".cloud.adc-e.uk", "eu-isoe-west-1"),
            (".csp.hci.ic.gov", "us-isof-south-1"),
        ]
        .into_iter()
        .find(|(suffix, _)| pattern.ends_with(suffix))
        .map_or("us-west-2", |(_, region)| region)
    }

    /// Whether `host` matches a host glob (`*` is one whole label), the kubelet's rule.
    fn glob_matches(pattern: &str, host: &str) -> bool {
        credential_provider_sdk::protocol::matching::urls_match(pattern, host)
    }

    #[test]
    fn readme_patterns_match_the_classifier() {
        for provider in ["ecr-credential-provider", "ecr-credential-provider-irsa"] {
            let patterns = readme_list(provider, Some("matchImages"), None);
            // EKS's own list (nodeadm's `ecrMatchImages`), 13 patterns.
            assert_eq!(patterns.len(), 13, "{provider}: {patterns:?}");
            assert_eq!(
                readme_list(provider, None, Some("--allow-auth-key=")),
                patterns,
                "{provider}: --allow-auth-key repeats matchImages"
            );
            let allowed = readme_list(provider, None, Some("--allow-http="));
            for pattern in &patterns {
                let region = region_for(pattern);
                let host = pattern
                    .replacen('*', "123456789012", 1)
                    .replacen('*', region, 1);
                assert!(
                    glob_matches(pattern, &format!("{host}/team/app")),
                    "{pattern} matches {host}"
                );
                let endpoint = match classify(&host) {
                    Registry::Public => ECR_PUBLIC_ENDPOINT.to_owned(),
                    Registry::Private {
                        region: Some(found),
                        fips,
                    } => {
                        assert_eq!(found, region, "{host}");
                        assert_eq!(fips, pattern.contains("-fips"), "{host}");
                        ecr_endpoint(region, fips)
                    }
                    other => panic!("{pattern}: the classifier reads {host} as {other:?}"),
                };
                let endpoint_host = endpoint.trim_start_matches("https://");
                assert!(
                    allowed.iter().any(|a| glob_matches(a, endpoint_host)),
                    "{provider}: {endpoint_host} (for {pattern}) is in --allow-http {allowed:?}"
                );
            }
            // Every host shape the classifier accepts is matched by some pattern.
            let covered = |host: &str| patterns.iter().any(|p| glob_matches(p, host));
            for public in PUBLIC_HOSTS {
                assert!(covered(public), "{provider}: {public}");
            }
            for suffix in PRIVATE_SUFFIXES {
                let region = region_for(&format!(".{suffix}"));
                let shapes = [
                    format!("123456789012.dkr.ecr.{region}.{suffix}"),
                    format!("123456789012.dkr-ecr.{region}.{suffix}"),
                ];
                assert!(
                    shapes.iter().any(|h| covered(h)),
                    "{provider}: no pattern for .{suffix}"
                );
            }
        }
    }

    #[test]
    fn takes_the_host_of_an_image() {
        assert_eq!(
            image_host("123456789012.dkr.ecr.us-west-2.amazonaws.com/team/app"),
            "123456789012.dkr.ecr.us-west-2.amazonaws.com"
        );
        assert_eq!(image_host("public.ecr.aws:443/x"), "public.ecr.aws");
        assert_eq!(image_host("[::1]:5000/x"), "::1");
        assert_eq!(image_host("noslash"), "noslash");
    }

    #[test]
    fn endpoints_follow_the_partition() {
        assert_eq!(
            ecr_endpoint("us-west-2", false),
            "https://api.ecr.us-west-2.amazonaws.com"
        );
        assert_eq!(
            ecr_endpoint("us-east-1", true),
            "https://ecr-fips.us-east-1.amazonaws.com"
        );
        assert_eq!(
            ecr_endpoint("cn-north-1", false),
            "https://api.ecr.cn-north-1.amazonaws.com.cn"
        );
        assert_eq!(
            sts_endpoint("eu-west-1"),
            "https://sts.eu-west-1.amazonaws.com"
        );
        assert_eq!(
            sts_endpoint("us-iso-east-1"),
            "https://sts.us-iso-east-1.c2s.ic.gov"
        );
        assert!(!is_region("us-west-2.evil.example/"));
        assert!(!is_region(""));
        assert!(is_region("us-west-2"));
    }
}
