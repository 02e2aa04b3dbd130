//! The host's own message lines: `wasm-credential-provider: <subject>: <message>`, one line each.
//!
//! The kubelet logs a plugin's stderr, and operators grep it, so every message the host writes
//! is exactly one line that no input can split or disguise: line breaks become spaces, other
//! control characters and the Unicode characters that reorder or break displayed text become
//! U+FFFD. Every front end prints through here.

use std::io::Write;

use crate::names::BINARY_NAME;

/// Whether `c` would break, hide or reorder a log line when displayed: C0 and C1 controls (tab
/// excepted), the Unicode line and paragraph separators, and the bidirectional formatting
/// characters (embeddings, overrides, isolates, marks).
pub fn is_line_breaking(c: char) -> bool {
    (c.is_control() && c != '\t')
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{061c}' | '\u{202a}'
                ..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

/// `text` as one displayable line: line breaks as spaces, every other [`is_line_breaking`]
/// character as U+FFFD.
pub fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\n' | '\r' => ' ',
            c if is_line_breaking(c) => '\u{fffd}',
            c => c,
        })
        .collect()
}

/// `wasm-credential-provider: <subject>: <message>`, made one line.
pub fn error_line(subject: &str, message: &str) -> String {
    format!(
        "{BINARY_NAME}: {}: {}",
        one_line(subject),
        one_line(message)
    )
}

/// `wasm-credential-provider: <subject>: warning: <message>`, made one line.
pub fn warning_line(subject: &str, message: &str) -> String {
    error_line(subject, &format!("warning: {message}"))
}

/// Writes [`error_line`] to `out`. Logging is best effort: a closed stderr must not turn the
/// outcome into another one.
pub fn write_error(out: &mut dyn Write, subject: &str, message: &str) {
    let _ = writeln!(out, "{}", error_line(subject, message));
}

/// Writes [`warning_line`] to `out`, best effort.
pub fn write_warning(out: &mut dyn Write, subject: &str, message: &str) {
    let _ = writeln!(out, "{}", warning_line(subject, message));
}

/// Prints [`error_line`] on the process's stderr.
pub fn print_error(subject: &str, message: &str) {
    print_line(subject, message);
}

/// Prints `wasm-credential-provider: <subject>: <message>` on the process's stderr, made one
/// line: for what a subcommand reports besides its stdout (a verified signer, a pushed
/// digest), which may quote a certificate or registry's text.
pub fn print_line(subject: &str, message: &str) {
    write_error(&mut std::io::stderr().lock(), subject, message);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_cannot_be_split_or_reordered() {
        assert_eq!(
            one_line("a\nb\r\nc\x1b[31m\u{2028}d\u{202e}e\u{2066}f\tg\u{85}h"),
            "a b  c\u{fffd}[31m\u{fffd}d\u{fffd}e\u{fffd}f\tg\u{fffd}h"
        );
        assert_eq!(
            error_line("p\nq", "bad\nthing"),
            "wasm-credential-provider: p q: bad thing"
        );
        assert_eq!(
            warning_line("p", "x"),
            "wasm-credential-provider: p: warning: x"
        );
    }
}
