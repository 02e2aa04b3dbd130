//! Attacks the host's stderr buffer/log: writes to stderr without end. The test expects
//! the host to cap (truncate) captured stderr and fail on the timeout, or cut the guest
//! off; if a write is refused the guest exits 3.

use std::io::Write;

fn main() {
    let chunk = [b'E'; 64 * 1024];
    let mut err = std::io::stderr().lock();
    loop {
        if err.write_all(&chunk).is_err() {
            // stderr itself is refused, so there is nowhere to say so.
            std::process::exit(test_guests::DENIED_EXIT_CODE);
        }
    }
}
