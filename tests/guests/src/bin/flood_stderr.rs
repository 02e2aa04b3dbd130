//! Attacks the host's stderr buffer/log. With no argument, writes to stderr without end: the
//! test expects the host to cap (truncate) captured stderr and fail on the timeout, or cut the
//! guest off; if a write is refused the guest exits 3. With `newlines`, writes just under
//! 64 KiB of empty lines (each becomes a prefixed host line); with `forge`, writes lines that
//! try to break, reorder or disguise log lines (Unicode separators and bidi controls); both
//! then exit 1.

use std::io::Write;

fn main() {
    let mut err = std::io::stderr().lock();
    match std::env::args().nth(1).as_deref() {
        Some("newlines") => {
            let _ = err.write_all(&[b'\n'; 64 * 1024 - 1]);
            std::process::exit(1);
        }
        Some("forge") => {
            let _ = err.write_all(
                "one\u{2028}wasm-credential-provider: p: forged\u{2029}two\u{202e}three\u{2066}four\u{200f}\n"
                    .as_bytes(),
            );
            std::process::exit(1);
        }
        _ => {}
    }
    let chunk = [b'E'; 64 * 1024];
    loop {
        if err.write_all(&chunk).is_err() {
            // stderr itself is refused, so there is nowhere to say so.
            std::process::exit(test_guests::DENIED_EXIT_CODE);
        }
    }
}
