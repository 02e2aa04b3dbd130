//! Helper: reports everything the guest can see of its environment. Responds with one
//! auth entry, key `env.invalid`, username `env`, password = JSON text
//! `{"env": [[name, value], ...], "args": [...], "cwd": <string or null>}`. The test
//! expects no inherited environment and only the configured args.

fn main() {
    let request = test_guests::read_request();
    let env: Vec<[String; 2]> = std::env::vars_os()
        .map(|(name, value)| {
            [
                name.to_string_lossy().into_owned(),
                value.to_string_lossy().into_owned(),
            ]
        })
        .collect();
    let args: Vec<String> = std::env::args_os()
        .map(|arg| arg.to_string_lossy().into_owned())
        .collect();
    let cwd = std::env::current_dir()
        .ok()
        .map(|dir| dir.to_string_lossy().into_owned());
    let report = serde_json::json!({ "env": env, "args": args, "cwd": cwd });
    test_guests::respond(
        request.api_version(),
        "env.invalid",
        "env",
        &report.to_string(),
    );
}
