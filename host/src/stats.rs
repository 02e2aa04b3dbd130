//! The run statistics line: what `simulate` shows a plugin author about one exec (the guest's
//! peak linear memory), passed from the run mode to the tool that executed it.
//!
//! The run mode writes it only when its environment sets [`STATS_ENV`] (the kubelet never does),
//! as a host line (`wasm-credential-provider: <provider>: stats: ...`): a guest's own stderr is
//! forwarded as `[<provider>] ...`, so a guest cannot forge it.

use crate::names::BINARY_NAME;

/// Set to `1` in a run's environment to make the host end its stderr with the stats line.
pub const STATS_ENV: &str = "WASM_CREDENTIAL_PROVIDER_STATS";

/// The field naming the guest's peak linear memory, in bytes.
const PEAK_MEMORY_FIELD: &str = "guest-peak-memory-bytes=";

/// Whether a run whose environment is read through `var` reports its statistics.
pub fn requested(var: impl Fn(&str) -> Option<String>) -> bool {
    var(STATS_ENV).is_some_and(|v| v == "1")
}

/// The stats line of a run whose guest used at most `peak_memory` bytes of linear memory.
pub fn line(provider: &str, peak_memory: u64) -> String {
    format!("{BINARY_NAME}: {provider}: stats: {PEAK_MEMORY_FIELD}{peak_memory}")
}

/// The guest peak memory of a stats line in a run's stderr, and that stderr without the line.
pub fn take(stderr: &[u8]) -> (Option<u64>, Vec<u8>) {
    let mut peak = None;
    let mut rest = Vec::with_capacity(stderr.len());
    for line in stderr.split_inclusive(|&b| b == b'\n') {
        match parse(line) {
            Some(value) if peak.is_none() => peak = Some(value),
            _ => rest.extend_from_slice(line),
        }
    }
    (peak, rest)
}

fn parse(line: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(line).ok()?.trim_end_matches('\n');
    let rest = text.strip_prefix(BINARY_NAME)?.strip_prefix(": ")?;
    let (_, value) = rest.rsplit_once(&format!(": stats: {PEAK_MEMORY_FIELD}"))?;
    value.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_round_trips_and_is_removed() {
        let mut stderr = b"[p] hello\n".to_vec();
        stderr.extend_from_slice(line("p", 1_179_648).as_bytes());
        stderr.push(b'\n');
        assert_eq!(take(&stderr), (Some(1_179_648), b"[p] hello\n".to_vec()));
    }

    #[test]
    fn a_guest_line_is_not_a_stats_line() {
        let forged = format!("[p] {}\n", line("p", 1));
        assert_eq!(take(forged.as_bytes()), (None, forged.into_bytes()));
    }

    #[test]
    fn only_the_exact_value_is_read() {
        for bad in [
            "stats: guest-peak-memory-bytes=1",
            "wasm-credential-provider: p: stats: guest-peak-memory-bytes=x",
        ] {
            assert_eq!(take(bad.as_bytes()).0, None, "{bad}");
        }
        assert!(requested(|_| Some("1".into())));
        assert!(!requested(|_| Some("yes".into())));
        assert!(!requested(|_| None));
    }
}
