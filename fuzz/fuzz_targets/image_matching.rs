//! Image normalisation and the kubelet's `matchImages` / `auth` key matching, on text from a pod
//! spec (image) and from a config or a module's response (pattern, key).
//! Input: `pattern \n image`. Properties: never panics; a valid pattern without glob characters
//! matches itself; whatever the keyring finds for an image, the normalised key matches it (or it
//! is the Docker Hub fallback).
#![no_main]

use credential_provider_protocol::image::normalize_image;
use credential_provider_protocol::matching::{
    Keyring, is_default_registry_match, label_glob_match, normalize_auth_key, urls_match,
    validate_match_image,
};
use libfuzzer_sys::fuzz_target;

const GLOB: [char; 4] = ['*', '?', '[', '\\'];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (pattern, image) = text.split_once('\n').unwrap_or((text, text));
    let _ = normalize_image(image);
    if validate_match_image(pattern).is_ok() && !pattern.contains(GLOB) {
        assert!(urls_match(pattern, pattern), "{pattern:?} matches itself");
    }
    if !pattern.contains(['[', '\\']) {
        assert!(label_glob_match(pattern, pattern), "{pattern:?} globs itself");
    }
    let mut keyring = Keyring::new();
    if keyring.add(pattern, ()) && !keyring.lookup(image).is_empty() {
        let key = normalize_auth_key(pattern).expect("an added key normalises");
        if !key.contains('\u{FFFD}') {
            assert!(
                urls_match(&key, image)
                    || (key == "index.docker.io" && is_default_registry_match(image)),
                "keyring found {image:?} under {key:?}"
            );
        }
    }
});
