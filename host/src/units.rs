//! Parsing of the size and duration values operators write in provider args.

use std::time::Duration;

use credential_provider_protocol::GoDuration;

/// Parses a byte size: a plain number of bytes, or a number with a binary suffix (`Ki`, `Mi`,
/// `Gi`, also written `KiB`, `MiB`, `GiB`) or a decimal one (`k`/`K`, `M`, `G`), as Kubernetes
/// quantities are written (`64Mi`).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(split);
    if number.is_empty() {
        return Err(format!(
            "{text:?} is not a size (expected e.g. 64Mi, 512Ki, 1048576)"
        ));
    }
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is too large"))?;
    let multiplier: u64 = match suffix {
        "" => 1,
        "Ki" | "KiB" => 1 << 10,
        "Mi" | "MiB" => 1 << 20,
        "Gi" | "GiB" => 1 << 30,
        "k" | "K" | "kB" | "KB" => 1_000,
        "M" | "MB" => 1_000_000,
        "G" | "GB" => 1_000_000_000,
        other => {
            return Err(format!(
                "{text:?} has an unknown unit {other:?} (use Ki, Mi, Gi, k, M, G)"
            ));
        }
    };
    number
        .checked_mul(multiplier)
        .ok_or_else(|| format!("{text:?} is too large"))
}

/// Parses a duration written the Go/Kubernetes way (`30s`, `1m30s`, `500ms`); must be positive.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let parsed = GoDuration::parse(text.trim()).map_err(|e| e.to_string())?;
    match parsed.to_std() {
        Some(d) if !d.is_zero() => Ok(d),
        _ => Err(format!("{text:?} must be a positive duration")),
    }
}

/// Formats a byte count for messages (`64 MiB`, `1.5 KiB`, `100 bytes`).
pub fn format_size(bytes: u64) -> String {
    const UNITS: [(&str, u64); 3] = [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)];
    for (unit, size) in UNITS {
        if bytes >= size {
            return if bytes.is_multiple_of(size) {
                format!("{} {unit}", bytes / size)
            } else {
                format!("{:.1} {unit}", bytes as f64 / size as f64)
            };
        }
    }
    format!("{bytes} bytes")
}

/// Formats a byte count the way provider args write it, in the largest binary unit that is
/// exact (`64Mi`, `1536Ki`, `100`): the form `--help` shows defaults in.
pub fn format_size_arg(bytes: u64) -> String {
    const UNITS: [(&str, u64); 3] = [("Gi", 1 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10)];
    UNITS
        .iter()
        .find(|(_, size)| bytes != 0 && bytes.is_multiple_of(*size))
        .map_or_else(
            || bytes.to_string(),
            |(unit, size)| format!("{}{unit}", bytes / size),
        )
}

/// Formats a duration for messages the way operators write it (`30s`, `1m0s`, `500ms`).
pub fn format_duration(duration: Duration) -> String {
    let nanos = i64::try_from(duration.as_nanos()).unwrap_or(i64::MAX);
    GoDuration::from_nanos(nanos).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("64Mi").unwrap(), 64 << 20);
        assert_eq!(parse_size("64MiB").unwrap(), 64 << 20);
        assert_eq!(parse_size("512Ki").unwrap(), 512 << 10);
        assert_eq!(parse_size("1048576").unwrap(), 1 << 20);
        assert_eq!(parse_size("2G").unwrap(), 2_000_000_000);
        for bad in [
            "",
            "Mi",
            "64 Mi",
            "64mb",
            "-1",
            "1.5Mi",
            "99999999999999999999",
            "99999999999Gi",
        ] {
            assert!(parse_size(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        for bad in ["0", "0s", "-1s", "30", "1d", ""] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn formatting() {
        assert_eq!(format_size(64 << 20), "64 MiB");
        assert_eq!(format_size(1536), "1.5 KiB");
        assert_eq!(format_size(10), "10 bytes");
        assert_eq!(format_size_arg(64 << 20), "64Mi");
        assert_eq!(format_size_arg(1536), "1536");
        assert_eq!(format_size_arg(3 << 10), "3Ki");
        assert_eq!(format_size_arg(4 << 30), "4Gi");
        assert_eq!(format_size_arg(0), "0");
        for bytes in [1, 1536, 64 << 20, 5 << 30] {
            assert_eq!(parse_size(&format_size_arg(bytes)).unwrap(), bytes);
        }
        assert_eq!(format_duration(Duration::from_secs(30)), "30s");
        assert_eq!(format_duration(Duration::from_secs(90)), "1m30s");
    }
}
