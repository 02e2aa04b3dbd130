//! Attacks wall-clock time through stdin: reads stdin in a loop forever, and keeps
//! calling `read` after EOF (or an error). The test expects the host to stop it at the
//! timeout and fail, never to hang.

use std::io::Read;

fn main() {
    let mut stdin = std::io::stdin();
    let mut buf = [0u8; 4096];
    loop {
        let _ = std::hint::black_box(stdin.read(&mut buf));
    }
}
