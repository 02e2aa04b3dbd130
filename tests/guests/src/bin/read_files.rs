//! Attacks the filesystem: reads `/etc/passwd` and `/proc/self/environ`, lists `/` and
//! `.`, creates `/tmp/escaped`, reads `../../etc/hostname`. The test expects every
//! attempt to fail (no preopened directories): exit 3 with a `denied:` line on stderr.
//! Any success prints a valid response with `ESCAPED:<what>` and exits 0.

use std::fs;
use std::io::Result;

fn list(dir: &str) -> Result<String> {
    let names: Vec<String> = fs::read_dir(dir)?
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    Ok(names.join(","))
}

fn read(path: &str) -> Result<String> {
    let bytes = fs::read(path)?;
    Ok(String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned())
}

fn main() {
    let request = test_guests::read_request();
    let attempts = [
        ("read /etc/passwd", read("/etc/passwd")),
        ("read /proc/self/environ", read("/proc/self/environ")),
        ("list /", list("/")),
        ("list .", list(".")),
        (
            "create /tmp/escaped",
            fs::write("/tmp/escaped", b"escaped").map(|()| String::new()),
        ),
        ("read ../../etc/hostname", read("../../etc/hostname")),
    ];
    let mut got = Vec::new();
    let mut errors = Vec::new();
    for (what, result) in attempts {
        match result {
            Ok(content) => got.push(format!("{what}: {content}")),
            Err(err) => errors.push(format!("{what}: {err}")),
        }
    }
    if !got.is_empty() {
        test_guests::escaped(&request, &got.join("; "));
    }
    test_guests::denied(&errors.join("; "));
}
