//! DSSE envelopes: the pre-authentication encoding that is signed, and the in-toto statement
//! whose subjects name the artifacts an envelope is about.

use serde::Deserialize;

/// The payload type of an in-toto statement.
pub const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// DSSE's PAE: `DSSEv1 <len(type)> <type> <len(payload)> <payload>`, what the signature covers.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

#[derive(Deserialize)]
struct Statement {
    #[serde(rename = "_type")]
    kind: String,
    #[serde(default)]
    subject: Vec<Subject>,
}

#[derive(Deserialize)]
struct Subject {
    #[serde(default)]
    digest: std::collections::BTreeMap<String, String>,
}

/// Whether the in-toto statement `payload` has a subject whose SHA-256 is `digest`.
pub fn statement_names(payload: &[u8], digest: &[u8]) -> Result<bool, String> {
    let statement: Statement = serde_json::from_slice(payload)
        .map_err(|e| format!("the envelope's payload is not an in-toto statement ({e})"))?;
    if !statement.kind.starts_with("https://in-toto.io/Statement/") {
        return Err(format!("unknown statement type {:?}", statement.kind));
    }
    let want = hex::encode(digest);
    Ok(statement.subject.iter().any(|subject| {
        subject
            .digest
            .get("sha256")
            .is_some_and(|hex_digest| hex_digest.eq_ignore_ascii_case(&want))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_matches_the_spec_example() {
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
    }
}
