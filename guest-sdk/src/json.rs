//! JSON error messages that are safe to log.
//!
//! serde_json's own messages quote the offending value (`invalid type: string "ya29.secret",
//! expected i64`), and a cloud's token reply is exactly where that value is a secret. Plugins
//! report JSON failures with [`describe_json_error`] instead.

/// What went wrong and where (`unexpected fields or types at line 1 column 17`), never the
/// offending value.
pub fn describe_json_error(err: &serde_json::Error) -> String {
    let kind = match err.classify() {
        serde_json::error::Category::Io => "unreadable",
        serde_json::error::Category::Syntax => "not JSON",
        serde_json::error::Category::Data => "unexpected fields or types",
        serde_json::error::Category::Eof => "truncated",
    };
    format!("{kind} at line {} column {}", err.line(), err.column())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_quotes_the_reply() {
        let err = serde_json::from_str::<std::collections::BTreeMap<String, i64>>(
            r#"{"access_token": "secret-token-value"}"#,
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("secret-token-value"),
            "serde quotes it"
        );
        let message = describe_json_error(&err);
        assert!(!message.contains("secret"), "{message}");
        assert_eq!(message, "unexpected fields or types at line 1 column 37");
    }
}
