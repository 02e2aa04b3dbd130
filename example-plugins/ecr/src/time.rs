//! UTC timestamps with the `time` crate: ISO 8601 basic for SigV4 (`20150830T123600Z`),
//! RFC 3339 for messages, and parsing of the RFC 3339 `Expiration` of STS and
//! instance-metadata credentials.

use std::time::SystemTime;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

/// Seconds since the epoch of `time` (negative before 1970).
pub fn epoch_seconds(time: SystemTime) -> i64 {
    OffsetDateTime::from(time).unix_timestamp()
}

/// Milliseconds since the epoch of `time` (negative before 1970).
pub fn epoch_millis(time: SystemTime) -> i128 {
    OffsetDateTime::from(time).unix_timestamp_nanos() / 1_000_000
}

/// The time `secs` seconds after the epoch (before it when negative).
#[cfg(test)]
pub fn from_epoch_seconds(secs: i64) -> SystemTime {
    OffsetDateTime::from_unix_timestamp(secs)
        .expect("test times are in range")
        .into()
}

/// `YYYYMMDDTHHMMSSZ` (SigV4's `X-Amz-Date`).
pub fn amz_date(time: SystemTime) -> String {
    let format = format_description!("[year][month][day]T[hour][minute][second]Z");
    // Formatting a four-digit year with fixed fields cannot fail; a clock outside years
    // 0..=9999 gives an empty date, which AWS refuses as it should.
    OffsetDateTime::from(time)
        .format(&format)
        .unwrap_or_default()
}

/// `YYYY-MM-DDTHH:MM:SSZ`, for messages (`secs` since the epoch).
pub fn rfc3339(secs: i64) -> String {
    OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| format!("{secs} seconds after the epoch"))
}

/// Parses an RFC 3339 date-time (`2015-08-30T12:36:00Z`, `...00.123Z`, `...00+02:00`) to
/// epoch seconds, fraction dropped.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    OffsetDateTime::parse(text.trim(), &Rfc3339)
        .ok()
        .map(OffsetDateTime::unix_timestamp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_amz_dates() {
        assert_eq!(amz_date(from_epoch_seconds(0)), "19700101T000000Z");
        assert_eq!(
            amz_date(from_epoch_seconds(1_440_938_160)),
            "20150830T123600Z"
        );
        assert_eq!(
            amz_date(from_epoch_seconds(951_782_400)),
            "20000229T000000Z"
        );
        assert_eq!(rfc3339(1_767_225_600), "2026-01-01T00:00:00Z");
        assert_eq!(epoch_millis(from_epoch_seconds(-2)), -2000);
        assert_eq!(epoch_seconds(from_epoch_seconds(-2)), -2);
    }

    #[test]
    fn parses_expirations() {
        assert_eq!(parse_rfc3339("2015-08-30T12:36:00Z"), Some(1_440_938_160));
        assert_eq!(
            parse_rfc3339("2015-08-30T12:36:00.123Z"),
            Some(1_440_938_160)
        );
        assert_eq!(
            parse_rfc3339("2015-08-30T14:36:00+02:00"),
            Some(1_440_938_160)
        );
        assert_eq!(parse_rfc3339("2026-01-01T00:00:00Z"), Some(1_767_225_600));
        assert_eq!(parse_rfc3339("2026-01-01t00:00:00z"), Some(1_767_225_600));
        for bad in [
            "",
            "2015-08-30",
            "2015-13-30T12:36:00Z",
            "2015-02-30T12:36:00Z",
            "2015-08-30T12:36:00",
            "2015-08-30T12:36:00.Z",
            "2015-08-30T12:36:00+0200",
            "2015-08-30T1a:36:00Z",
            "２015-08-30T12:36:00Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }
}
