//! The run statistics line: what `simulate` shows a plugin author about one exec (the guest's
//! peak linear memory, the host process's peak resident memory), passed from the run mode to
//! the tool that executed it.
//!
//! The run mode writes it only when its environment sets [`STATS_ENV`] (the kubelet never does),
//! as a host line (`wasm-credential-provider: <provider>: stats: ...`): a guest's own stderr is
//! forwarded as `[<provider>] ...`, so a guest cannot forge it.

use crate::names::BINARY_NAME;

/// Set to `1` in a run's environment to make the host end its stderr with the stats line.
pub const STATS_ENV: &str = "WASM_CREDENTIAL_PROVIDER_STATS";

/// The field naming the guest's peak linear memory, in bytes.
const PEAK_MEMORY_FIELD: &str = "guest-peak-memory-bytes=";
/// The field naming the host process's peak resident set (`VmHWM`), in bytes.
const PEAK_RSS_FIELD: &str = "host-peak-rss-bytes=";
/// The field naming where the guest's compiled code came from (`compiled`, `cache`,
/// `precompiled`).
const CODE_FIELD: &str = "code=";

/// What one run reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunStats {
    /// The most linear memory the guest held at once.
    pub guest_peak_memory_bytes: u64,
    /// The host process's peak resident memory up to the end of the guest's run, when the
    /// system says (`/proc/self/status`).
    pub host_peak_rss_bytes: Option<u64>,
    /// Where the compiled code came from: `compiled` (now), `cache`, `precompiled`.
    pub code: Option<&'static str>,
}

/// The values [`RunStats::code`] takes.
const CODE_ORIGINS: [&str; 3] = ["compiled", "cache", "precompiled"];

/// Whether a run whose environment is read through `var` reports its statistics.
pub fn requested(var: impl Fn(&str) -> Option<String>) -> bool {
    var(STATS_ENV).is_some_and(|v| v == "1")
}

/// This process's peak resident memory so far, in bytes (`VmHWM`), if the system says.
pub fn host_peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line
        .trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    kib.checked_mul(1024)
}

/// The stats line of a run.
pub fn line(provider: &str, stats: &RunStats) -> String {
    let mut line = format!(
        "{BINARY_NAME}: {provider}: stats: {PEAK_MEMORY_FIELD}{}",
        stats.guest_peak_memory_bytes
    );
    if let Some(rss) = stats.host_peak_rss_bytes {
        line.push_str(&format!(" {PEAK_RSS_FIELD}{rss}"));
    }
    if let Some(code) = stats.code {
        line.push_str(&format!(" {CODE_FIELD}{code}"));
    }
    line
}

/// The stats of a stats line in a run's stderr, and that stderr without the line.
pub fn take(stderr: &[u8]) -> (Option<RunStats>, Vec<u8>) {
    let mut stats = None;
    let mut rest = Vec::with_capacity(stderr.len());
    for line in stderr.split_inclusive(|&b| b == b'\n') {
        match parse(line) {
            Some(value) if stats.is_none() => stats = Some(value),
            _ => rest.extend_from_slice(line),
        }
    }
    (stats, rest)
}

fn parse(line: &[u8]) -> Option<RunStats> {
    let text = std::str::from_utf8(line).ok()?.trim_end_matches('\n');
    let rest = text.strip_prefix(BINARY_NAME)?.strip_prefix(": ")?;
    let (_, fields) = rest.rsplit_once(&format!(": stats: {PEAK_MEMORY_FIELD}"))?;
    let mut fields = fields.split(' ');
    let mut stats = RunStats {
        guest_peak_memory_bytes: fields.next()?.parse().ok()?,
        ..RunStats::default()
    };
    for field in fields {
        if let Some(rss) = field.strip_prefix(PEAK_RSS_FIELD) {
            stats.host_peak_rss_bytes = Some(rss.parse().ok()?);
        } else if let Some(code) = field.strip_prefix(CODE_FIELD) {
            stats.code = Some(CODE_ORIGINS.into_iter().find(|known| *known == code)?);
        } else {
            return None;
        }
    }
    Some(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_round_trips_and_is_removed() {
        for stats in [
            RunStats {
                guest_peak_memory_bytes: 1_179_648,
                ..RunStats::default()
            },
            RunStats {
                guest_peak_memory_bytes: 1_179_648,
                host_peak_rss_bytes: Some(14 << 20),
                code: Some("cache"),
            },
        ] {
            let mut stderr = b"[p] hello\n".to_vec();
            stderr.extend_from_slice(line("p", &stats).as_bytes());
            stderr.push(b'\n');
            assert_eq!(take(&stderr), (Some(stats), b"[p] hello\n".to_vec()));
        }
        assert!(host_peak_rss_bytes().is_some_and(|rss| rss > 0));
    }

    #[test]
    fn a_guest_line_is_not_a_stats_line() {
        let forged = format!("[p] {}\n", line("p", &RunStats::default()));
        assert_eq!(take(forged.as_bytes()), (None, forged.into_bytes()));
    }

    #[test]
    fn only_the_exact_value_is_read() {
        for bad in [
            "stats: guest-peak-memory-bytes=1",
            "wasm-credential-provider: p: stats: guest-peak-memory-bytes=x",
            "wasm-credential-provider: p: stats: guest-peak-memory-bytes=1 other=2",
            "wasm-credential-provider: p: stats: guest-peak-memory-bytes=1 code=elsewhere",
        ] {
            assert_eq!(take(bad.as_bytes()).0, None, "{bad}");
        }
        assert!(requested(|_| Some("1".into())));
        assert!(!requested(|_| Some("yes".into())));
        assert!(!requested(|_| None));
    }
}
