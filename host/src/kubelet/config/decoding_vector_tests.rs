//! Table test over `shared/spec/config-decoding-vectors.json`: each case's `text` is written to
//! a file named by its `file` in a temporary directory and read with [`super::load`], the path
//! every tool reads configs through. The kubelet's verdict must match, and for a refused file
//! its exact error (the vectors name the file as given; here it is the temporary path). Every
//! failing case is listed.

use serde_json::Value;

use super::{FeatureGates, load};
use crate::kubelet::field::go_quote;

const VECTORS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/spec/config-decoding-vectors.json"
);

const KNOWN_FIELDS: &[&str] = &["id", "file", "note", "text", "kubelet", "kubeletError"];

/// Loads one case; `Err` says how it differs from the kubelet.
pub(super) fn check(case: &Value) -> Result<(), String> {
    let object = case.as_object().ok_or("case is not an object")?;
    if let Some(unknown) = object.keys().find(|k| !KNOWN_FIELDS.contains(&k.as_str())) {
        return Err(format!(
            "unknown case field {unknown:?}: teach this test about it"
        ));
    }
    let file = case["file"].as_str().ok_or("no file")?;
    let text = case["text"].as_str().ok_or("no text")?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let path = dir.path().join(file);
    std::fs::write(&path, text).map_err(|e| e.to_string())?;
    let loaded = load(&path, FeatureGates::default());
    let got = loaded.kubelet_error();
    match case["kubelet"].as_str() {
        Some("accept") => match got {
            None if loaded.is_valid() => Ok(()),
            None => Err(format!(
                "accepted, but problems listed: {:?}",
                loaded.problems
            )),
            Some(error) => Err(format!("refused: {error}")),
        },
        Some("reject") => {
            let expected = case["kubeletError"]
                .as_str()
                .ok_or("reject without kubeletError")?;
            let expected = expected.replace(&go_quote(file), &go_quote(path.display().to_string()));
            if loaded.is_valid() {
                return Err("accepted".into());
            }
            match got {
                Some(error) if error == expected => Ok(()),
                other => Err(format!("error {other:?}, expected {expected:?}")),
            }
        }
        other => Err(format!("unknown verdict {other:?}")),
    }
}

#[test]
fn shared_config_decoding_vectors() {
    let text =
        std::fs::read_to_string(VECTORS).unwrap_or_else(|e| panic!("reading {VECTORS}: {e}"));
    let vectors: Value = serde_json::from_str(&text).expect("vectors are JSON");
    let cases = vectors["cases"].as_array().expect("a \"cases\" list");
    assert!(!cases.is_empty());
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|case| {
            let id = case["id"].as_str().unwrap_or("?");
            check(case).err().map(|why| format!("{id}: {why}"))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} case(s) differ from the kubelet:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
