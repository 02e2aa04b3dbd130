//! Helper: responds with password = the request's `serviceAccountToken` (empty if the
//! request has none), username `token`, key = the image's registry host. Tests the
//! kubelet's rule about a plugin echoing the service account token back.

fn main() {
    let request = test_guests::read_request();
    let token = request.str_field("serviceAccountToken").unwrap_or_default();
    let key = request.registry_key("no-image.invalid");
    test_guests::respond(request.api_version(), key, "token", token);
}
