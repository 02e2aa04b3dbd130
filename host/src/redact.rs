//! Keeping a run's secrets out of everything the host writes.
//!
//! The request's service-account token and the values of the environment granted to the guest
//! (`--env`) are known to the host; they must not reach the kubelet's log through a host
//! message, even one that quotes guest output (an auth key or field name a guest chose, a line
//! of its stderr). Every line the run mode writes passes through [`RedactingLog`], and its error
//! through [`Secrets::redact`]. Messages shorten long names to a prefix, so a long enough prefix
//! of a secret is redacted too.
//!
//! This catches the host's own quoting and a guest's honest mistakes; a guest that wants to leak
//! what it was given can always encode it first, which is why guests get only what they need.

use std::borrow::Cow;
use std::io::Write;

/// Values shorter than this are not treated as secrets: redacting `1` or `true` everywhere
/// would garble every message and protect nothing.
pub const MIN_SECRET_CHARS: usize = 6;
/// A prefix of a secret this long (or the whole secret, if shorter) is redacted wherever it
/// appears: messages cut long names to their first 80 characters.
pub const MIN_PREFIX_CHARS: usize = 16;
/// What a secret is replaced with.
pub const REDACTED: &str = "<redacted>";

/// The secret values of one run.
#[derive(Clone, Debug, Default)]
pub struct Secrets {
    /// Longest first, so a secret that contains another is replaced whole.
    values: Vec<String>,
}

impl Secrets {
    /// The secrets among `values` (those of at least [`MIN_SECRET_CHARS`] characters).
    pub fn new<'a>(values: impl IntoIterator<Item = &'a str>) -> Self {
        let mut values: Vec<String> = values
            .into_iter()
            .filter(|v| v.chars().count() >= MIN_SECRET_CHARS)
            .map(str::to_owned)
            .collect();
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        values.dedup();
        Secrets { values }
    }

    /// Whether there is nothing to redact.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// `text` with every secret, and every run of at least [`MIN_PREFIX_CHARS`] characters that
    /// begins a secret, replaced by [`REDACTED`].
    pub fn redact<'t>(&self, text: &'t str) -> Cow<'t, str> {
        let mut text = Cow::Borrowed(text);
        for secret in &self.values {
            if let Some(replaced) = redact_one(&text, secret) {
                text = Cow::Owned(replaced);
            }
        }
        text
    }
}

/// `text` with `secret` (and its long prefixes) replaced, or `None` if it holds neither.
fn redact_one(text: &str, secret: &str) -> Option<String> {
    let first = secret.chars().next()?;
    let needed = secret
        .char_indices()
        .nth(MIN_PREFIX_CHARS)
        .map_or(secret.len(), |(at, _)| at);
    let mut out = String::new();
    let mut copied = 0;
    let mut search = 0;
    while let Some(found) = text[search..].find(first) {
        let at = search + found;
        let matched = common_prefix_len(&text[at..], secret);
        if matched >= needed {
            out.push_str(&text[copied..at]);
            out.push_str(REDACTED);
            copied = at + matched;
            search = copied;
        } else {
            search = at + first.len_utf8();
        }
    }
    if out.is_empty() {
        return None;
    }
    out.push_str(&text[copied..]);
    Some(out)
}

/// Length in bytes of the longest common prefix of `a` and `b`, on a character boundary.
fn common_prefix_len(a: &str, b: &str) -> usize {
    a.char_indices()
        .zip(b.chars())
        .find(|((_, x), y)| x != y)
        .map_or_else(|| a.len().min(b.len()), |((at, _), _)| at)
}

/// A log writer that redacts [`Secrets`] line by line before passing text on. A partial last
/// line is written on flush or drop.
pub struct RedactingLog<'a> {
    inner: &'a mut dyn Write,
    secrets: &'a Secrets,
    pending: Vec<u8>,
}

impl<'a> RedactingLog<'a> {
    /// Redacts what is written through it into `inner`.
    pub fn new(inner: &'a mut dyn Write, secrets: &'a Secrets) -> Self {
        RedactingLog {
            inner,
            secrets,
            pending: Vec::new(),
        }
    }

    fn write_out(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        if self.secrets.is_empty() {
            return self.inner.write_all(bytes);
        }
        let text = String::from_utf8_lossy(bytes);
        self.inner.write_all(self.secrets.redact(&text).as_bytes())
    }
}

impl Write for RedactingLog<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.pending.extend_from_slice(buf);
        if let Some(end) = self.pending.iter().rposition(|&b| b == b'\n') {
            let lines: Vec<u8> = self.pending.drain(..=end).collect();
            self.write_out(&lines)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if !self.pending.is_empty() {
            let rest = std::mem::take(&mut self.pending);
            self.write_out(&rest)?;
        }
        self.inner.flush()
    }
}

impl Drop for RedactingLog<'_> {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_and_their_long_prefixes_are_redacted() {
        let token = "eyJhbGciOiJSUzI1NiJ9.payload-part.signature";
        let secrets = Secrets::new([token, "hunter2hunter2", "1", "short"]);
        assert_eq!(
            secrets.redact(&format!("auth key {token:?} is bad")),
            "auth key \"<redacted>\" is bad"
        );
        // Cut to a prefix, as messages cut long names.
        let cut: String = token.chars().take(20).collect();
        assert_eq!(
            secrets.redact(&format!("key {cut}, cut")),
            "key <redacted>, cut"
        );
        // A short common start is no secret.
        assert_eq!(
            secrets.redact("eyJhbGci is a header"),
            "eyJhbGci is a header"
        );
        assert_eq!(
            secrets.redact("a hunter2hunter2 b hunter2hunter2"),
            "a <redacted> b <redacted>"
        );
        // Values too short to be secrets are left alone.
        assert_eq!(secrets.redact("1 short"), "1 short");
        assert!(matches!(secrets.redact("nothing here"), Cow::Borrowed(_)));
    }

    #[test]
    fn the_log_redacts_lines_split_across_writes() {
        let secrets = Secrets::new(["s3cr3t-value"]);
        let mut out = Vec::new();
        {
            let mut log = RedactingLog::new(&mut out, &secrets);
            log.write_all(b"one s3cr").unwrap();
            log.write_all(b"3t-value two\nthree s3cr3t-value").unwrap();
        }
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "one <redacted> two\nthree <redacted>"
        );
    }
}
