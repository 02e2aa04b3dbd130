//! Helper: reads all of stdin and responds with one auth entry, key = the request's
//! `image`, username `stdin`, password = the exact stdin bytes (lossy UTF-8). The test
//! checks that the canonical request JSON plus a trailing newline reached the guest.

fn main() {
    let request = test_guests::read_request();
    let stdin = String::from_utf8_lossy(&request.raw);
    let key = request.image().unwrap_or("no-image.invalid");
    test_guests::respond(request.api_version(), key, "stdin", &stdin);
}
