//! Go `time.Duration` strings, as the kubelet parses and prints `cacheDuration`.

use std::fmt;
use std::str::FromStr;

/// A signed duration with nanosecond precision, parsed and printed exactly like Go's
/// `time.ParseDuration` and `Duration.String` (`"90s"` parses; it prints as `"1m30s"`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GoDuration {
    nanos: i64,
}

/// The string is not a Go duration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DurationError {
    /// Not of the form `[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+` (or `0`).
    #[error("time: invalid duration {0:?}")]
    Invalid(String),
    /// A number without a unit (only a lone `0` may omit it).
    #[error("time: missing unit in duration {0:?}")]
    MissingUnit(String),
    /// A unit other than `ns`, `us`, `µs`, `ms`, `s`, `m`, `h`.
    #[error("time: unknown unit {unit:?} in duration {input:?}")]
    UnknownUnit {
        /// The unit as written.
        unit: String,
        /// The whole input.
        input: String,
    },
    /// The value does not fit in 64 bits of nanoseconds (about 292 years).
    #[error("time: invalid duration {0:?}")]
    Overflow(String),
}

const NANOSECOND: u64 = 1;
const MICROSECOND: u64 = 1_000 * NANOSECOND;
const MILLISECOND: u64 = 1_000 * MICROSECOND;
const SECOND: u64 = 1_000 * MILLISECOND;
const MINUTE: u64 = 60 * SECOND;
const HOUR: u64 = 60 * MINUTE;

fn unit_nanos(unit: &str) -> Option<u64> {
    Some(match unit {
        "ns" => NANOSECOND,
        "us" | "\u{b5}s" | "\u{3bc}s" => MICROSECOND,
        "ms" => MILLISECOND,
        "s" => SECOND,
        "m" => MINUTE,
        "h" => HOUR,
        _ => return None,
    })
}

impl GoDuration {
    /// The zero duration ("do not cache" when sent as `cacheDuration`).
    pub const ZERO: GoDuration = GoDuration { nanos: 0 };

    /// A duration of `nanos` nanoseconds.
    pub const fn from_nanos(nanos: i64) -> Self {
        GoDuration { nanos }
    }

    /// A duration of whole seconds, saturating at the representable range.
    pub const fn from_secs(secs: i64) -> Self {
        GoDuration {
            nanos: secs.saturating_mul(SECOND as i64),
        }
    }

    /// Signed nanoseconds.
    pub const fn as_nanos(self) -> i64 {
        self.nanos
    }

    /// Whether the duration is negative.
    pub const fn is_negative(self) -> bool {
        self.nanos < 0
    }

    /// The duration as a `std::time::Duration`, or `None` when negative.
    pub fn to_std(self) -> Option<std::time::Duration> {
        u64::try_from(self.nanos)
            .ok()
            .map(std::time::Duration::from_nanos)
    }

    /// Parses a Go duration string (`time.ParseDuration`).
    pub fn parse(input: &str) -> Result<Self, DurationError> {
        let invalid = || DurationError::Invalid(input.to_owned());
        let mut s = input;
        let mut negative = false;
        if let Some(rest) = s.strip_prefix('-') {
            negative = true;
            s = rest;
        } else if let Some(rest) = s.strip_prefix('+') {
            s = rest;
        }
        if s == "0" {
            return Ok(GoDuration::ZERO);
        }
        if s.is_empty() {
            return Err(invalid());
        }
        let limit: u64 = 1 << 63;
        let mut total: u64 = 0;
        while !s.is_empty() {
            let bytes = s.as_bytes();
            if !(bytes[0] == b'.' || bytes[0].is_ascii_digit()) {
                return Err(invalid());
            }
            // Integer part.
            let digits = s.bytes().take_while(u8::is_ascii_digit).count();
            let mut whole: u64 = 0;
            for d in s[..digits].bytes() {
                whole = whole
                    .checked_mul(10)
                    .and_then(|w| w.checked_add(u64::from(d - b'0')))
                    .filter(|w| *w <= limit)
                    .ok_or_else(|| DurationError::Overflow(input.to_owned()))?;
            }
            let had_whole = digits > 0;
            s = &s[digits..];
            // Fraction part: digits past what fits are ignored, as Go does.
            let mut frac: u64 = 0;
            let mut scale: f64 = 1.0;
            let mut had_frac = false;
            if let Some(rest) = s.strip_prefix('.') {
                let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
                let mut overflowed = false;
                for d in rest[..digits].bytes() {
                    if overflowed {
                        continue;
                    }
                    match frac
                        .checked_mul(10)
                        .and_then(|f| f.checked_add(u64::from(d - b'0')))
                        .filter(|f| *f < limit)
                    {
                        Some(f) => {
                            frac = f;
                            scale *= 10.0;
                        }
                        None => overflowed = true,
                    }
                }
                had_frac = digits > 0;
                s = &rest[digits..];
            }
            if !had_whole && !had_frac {
                return Err(invalid());
            }
            let unit_len = s
                .char_indices()
                .find(|(_, c)| *c == '.' || c.is_ascii_digit())
                .map_or(s.len(), |(i, _)| i);
            if unit_len == 0 {
                return Err(DurationError::MissingUnit(input.to_owned()));
            }
            let unit = &s[..unit_len];
            s = &s[unit_len..];
            let unit_ns = unit_nanos(unit).ok_or_else(|| DurationError::UnknownUnit {
                unit: unit.to_owned(),
                input: input.to_owned(),
            })?;
            if whole > limit / unit_ns {
                return Err(DurationError::Overflow(input.to_owned()));
            }
            let mut value = whole * unit_ns;
            if frac > 0 {
                // Go computes this in float64 too; truncation matches.
                value += (frac as f64 * (unit_ns as f64 / scale)) as u64;
                if value > limit {
                    return Err(DurationError::Overflow(input.to_owned()));
                }
            }
            total = total
                .checked_add(value)
                .filter(|t| *t <= limit)
                .ok_or_else(|| DurationError::Overflow(input.to_owned()))?;
        }
        if negative {
            // total <= 2^63, so the negation fits (i64::MIN at most).
            return Ok(GoDuration {
                nanos: (total as i128).wrapping_neg() as i64,
            });
        }
        if total > limit - 1 {
            return Err(DurationError::Overflow(input.to_owned()));
        }
        Ok(GoDuration {
            nanos: total as i64,
        })
    }
}

impl FromStr for GoDuration {
    type Err = DurationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        GoDuration::parse(s)
    }
}

/// Writes `v`'s fraction of `prec` digits (trailing zeros and a bare point omitted) and
/// returns `v / 10^prec`, as Go's `fmtFrac`.
fn push_frac(out: &mut String, v: u64, prec: u32) -> u64 {
    let divisor = 10u64.pow(prec);
    let frac = v % divisor;
    if frac != 0 {
        let digits = format!("{frac:0width$}", width = prec as usize);
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
    v / divisor
}

impl fmt::Display for GoDuration {
    /// Prints like Go's `Duration.String` (`"1h0m0s"`, `"1.5s"`, `"300ms"`, `"0s"`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let negative = self.nanos < 0;
        let u = self.nanos.unsigned_abs();
        let mut out = String::new();
        if u < SECOND {
            let (prec, unit) = match u {
                0 => return f.write_str("0s"),
                u if u < MICROSECOND => (0, "ns"),
                u if u < MILLISECOND => (3, "\u{b5}s"),
                _ => (6, "ms"),
            };
            let mut frac = String::new();
            let whole = push_frac(&mut frac, u, prec);
            out.push_str(&whole.to_string());
            out.push_str(&frac);
            out.push_str(unit);
        } else {
            let mut frac = String::new();
            let secs_total = push_frac(&mut frac, u, 9);
            let secs = secs_total % 60;
            let mins_total = secs_total / 60;
            if mins_total > 0 {
                let hours = mins_total / 60;
                if hours > 0 {
                    out.push_str(&format!("{hours}h"));
                }
                out.push_str(&format!("{}m", mins_total % 60));
            }
            out.push_str(&format!("{secs}{frac}s"));
        }
        if negative {
            f.write_str("-")?;
        }
        f.write_str(&out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(s: &str) -> i64 {
        GoDuration::parse(s).unwrap().as_nanos()
    }

    #[test]
    fn parses_go_examples() {
        assert_eq!(ns("0"), 0);
        assert_eq!(ns("0s"), 0);
        assert_eq!(ns("-0"), 0);
        assert_eq!(ns("+5s"), 5 * SECOND as i64);
        assert_eq!(ns("300ms"), 300 * MILLISECOND as i64);
        assert_eq!(ns("-1.5h"), -(90 * MINUTE as i64));
        assert_eq!(ns("2h45m"), (2 * HOUR + 45 * MINUTE) as i64);
        assert_eq!(ns("1h0m0s"), HOUR as i64);
        assert_eq!(ns("1.5s"), 1_500_000_000);
        assert_eq!(ns(".5s"), 500_000_000);
        assert_eq!(ns("5.s"), 5 * SECOND as i64);
        assert_eq!(ns("1us"), 1_000);
        assert_eq!(ns("1\u{b5}s"), 1_000);
        assert_eq!(ns("1\u{3bc}s"), 1_000);
        assert_eq!(ns("10ns"), 10);
        assert_eq!(ns("9223372036854775807ns"), i64::MAX);
        assert_eq!(ns("-9223372036854775808ns"), i64::MIN);
        assert_eq!(ns("0.100000000000000000000h"), 6 * MINUTE as i64);
    }

    #[test]
    fn rejects_what_go_rejects() {
        for bad in [
            "",
            "3",
            "-",
            "s",
            ".",
            "-.",
            ".s",
            "+.s",
            "1d",
            "1 s",
            " 1s",
            "1s ",
            "1S",
            "3600",
            "1.2.3s",
            "9223372036854775808ns",
            "3000000h",
            "1e3s",
        ] {
            assert!(
                GoDuration::parse(bad).is_err(),
                "{bad:?} should be rejected"
            );
        }
    }

    #[test]
    fn missing_unit_and_unknown_unit_are_distinguished() {
        assert!(matches!(
            GoDuration::parse("10"),
            Err(DurationError::MissingUnit(_))
        ));
        assert!(matches!(
            GoDuration::parse("10d"),
            Err(DurationError::UnknownUnit { .. })
        ));
    }

    #[test]
    fn prints_like_go() {
        let cases: &[(i64, &str)] = &[
            (0, "0s"),
            (1, "1ns"),
            (1_100, "1.1\u{b5}s"),
            (2_200_000, "2.2ms"),
            (3_300_000_000, "3.3s"),
            (60 * SECOND as i64, "1m0s"),
            (4 * MINUTE as i64 + 5 * SECOND as i64, "4m5s"),
            (HOUR as i64, "1h0m0s"),
            (
                5 * HOUR as i64 + 6 * MINUTE as i64 + 7_001_000_000,
                "5h6m7.001s",
            ),
            (-(MINUTE as i64), "-1m0s"),
            (i64::MAX, "2562047h47m16.854775807s"),
            (i64::MIN, "-2562047h47m16.854775808s"),
        ];
        for (nanos, text) in cases {
            assert_eq!(GoDuration::from_nanos(*nanos).to_string(), *text);
            assert_eq!(ns(text), *nanos, "{text} round-trips");
        }
    }
}
