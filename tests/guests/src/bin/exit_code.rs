//! Helper: reads stdin, writes `exiting with <n>` to stderr and exits with status
//! argv[1] (a missing or non-numeric argument exits 2 with a usage line). The test
//! expects the host to report the non-zero exit and pass the stderr line on.

fn main() {
    let _request = test_guests::read_request();
    let Some(code) = std::env::args()
        .nth(1)
        .and_then(|arg| arg.parse::<i32>().ok())
    else {
        eprintln!("usage: exit_code <status>");
        std::process::exit(2);
    };
    eprintln!("exiting with {code}");
    std::process::exit(code);
}
