//! Attacks wall-clock time with a blocking host call: sleeps (WASI clock wait /
//! `poll_oneoff`) for a very long time. The test expects the host to stop it at the
//! timeout and fail.

use std::time::Duration;

fn main() {
    loop {
        std::thread::sleep(Duration::from_secs(365 * 24 * 60 * 60));
    }
}
