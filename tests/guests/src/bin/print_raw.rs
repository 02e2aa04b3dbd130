//! Helper: reads stdin, then writes argv[1] to stdout byte for byte (no newline added)
//! and exits with status argv[2] (default 0). The tests use it for every
//! malformed-response rule (log text before the JSON, wrong apiVersion, unknown
//! field, ...) and expect the host to accept or reject exactly what the kubelet would.

use std::io::Write;

fn main() {
    let _request = test_guests::read_request();
    let mut args = std::env::args_os().skip(1);
    let output = args.next().unwrap_or_default();
    let status = match args.next() {
        None => 0,
        Some(arg) => match arg.to_str().and_then(|s| s.parse::<i32>().ok()) {
            Some(status) => status,
            None => {
                eprintln!("print_raw: exit status {arg:?} is not a number");
                2
            }
        },
    };
    let mut out = std::io::stdout().lock();
    if let Err(err) = out
        .write_all(output.as_encoded_bytes())
        .and_then(|()| out.flush())
    {
        eprintln!("print_raw: writing stdout failed: {err}");
        std::process::exit(1);
    }
    std::process::exit(status);
}
