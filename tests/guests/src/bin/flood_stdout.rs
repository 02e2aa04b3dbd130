//! Attacks the host's stdout buffer: writes to stdout without end. The test expects the
//! host to cap captured stdout and fail (or time out). If a write is refused the guest
//! writes a `denied:` line on stderr and exits 3.

use std::io::Write;

fn main() {
    let chunk = [b'A'; 64 * 1024];
    let mut out = std::io::stdout().lock();
    loop {
        if let Err(err) = out.write_all(&chunk) {
            test_guests::denied(&format!("stdout write: {err}"));
        }
    }
}
