//! Adding a `--sha256` pin to one provider's `args` in a config's own text, for `install
//! --module NAME=oci://REF`: the module's digest is only known once it is pulled and verified,
//! and the config must carry it (run mode checks it at every exec).
//!
//! The edit is textual, so the operator's file keeps its layout and comments: one
//! double-quoted item (valid in YAML of either style and in JSON) is inserted where the YAML
//! parser's marks say the provider's `args` end, or an `args` entry where its mapping ends.
//! Hand-written because no YAML library edits text in place. Then the result is decoded again
//! with the kubelet's rules and must equal the original with exactly that one argument added;
//! anything else (anchors, odd layouts) is refused, telling the operator which line to add.

use libyaml_safer::{EventData, MappingStyle, Parser, SequenceStyle};

use crate::kubelet::config::decode_config;

/// Where to insert, as a char index, and what.
type Insertion = (u64, String);

/// A container being walked.
struct Frame {
    role: Role,
    map: bool,
    flow: bool,
    /// The last key read in a mapping (waiting for its value), or `None` when a key is next.
    key: Option<String>,
    /// Column of the container's first entry (keys for a mapping, `-` for a sequence).
    column: Option<u64>,
    /// Char index just past the last complete child.
    last_end: Option<u64>,
    /// Children seen (values for mappings).
    children: usize,
    /// For a provider mapping: its `name`, and where its `args` take one more item.
    name: Option<String>,
    args_insertion: Option<Insertion>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Root,
    Providers,
    Provider,
    Args,
    Other,
}

/// `text` with `"--sha256=<hex>"` added to the args of provider `provider`, checked by decoding
/// both; `Err` says why it could not be done safely.
pub fn add_pin(text: &str, provider: &str, hex: &str) -> Result<String, String> {
    let item = format!("\"--sha256={hex}\"");
    let found = find(text, provider, &item).map_err(|e| format!("cannot read the config: {e}"))?;
    let Some((at, insert)) = found else {
        return Err(format!("the config has no provider {provider:?} to pin"));
    };
    let byte = text
        .char_indices()
        .nth(usize::try_from(at).unwrap_or(usize::MAX))
        .map_or(text.len(), |(byte, _)| byte);
    let edited = format!("{}{insert}{}", &text[..byte], &text[byte..]);
    let original = decode_config(text.as_bytes())?;
    let mut expected = original.clone();
    for p in expected.providers.iter_mut().filter(|p| p.name == provider) {
        p.args.push(format!("--sha256={hex}"));
    }
    match decode_config(edited.as_bytes()) {
        Ok(decoded) if decoded == expected => Ok(edited),
        _ => Err(format!(
            "cannot add the pin to this config's text safely; add --sha256={hex} to provider {provider:?}'s args"
        )),
    }
}

/// Where the pin goes for `provider`'s args, walking the parser's events with their marks.
fn find(text: &str, provider: &str, item: &str) -> Result<Option<Insertion>, String> {
    let mut input = text.as_bytes();
    let mut parser = Parser::new();
    parser.set_input_string(&mut input);
    let mut stack: Vec<Frame> = Vec::new();
    let mut found = None;
    loop {
        let event = parser.parse().map_err(|e| e.to_string())?;
        let (start, end) = (event.start_mark, event.end_mark);
        let opened = match event.data {
            EventData::StreamEnd | EventData::DocumentEnd { .. } => return Ok(found),
            EventData::MappingStart { style, .. } => Some((true, style == MappingStyle::Flow)),
            EventData::SequenceStart { style, .. } => Some((false, style == SequenceStyle::Flow)),
            EventData::MappingEnd | EventData::SequenceEnd => {
                let Some(frame) = stack.pop() else {
                    continue;
                };
                match frame.role {
                    Role::Args => {
                        if let Some(parent) = stack.last_mut() {
                            parent.args_insertion = Some(args_insertion(&frame, start.index, item));
                        }
                    }
                    Role::Provider
                        if frame.name.as_deref() == Some(provider) && found.is_none() =>
                    {
                        found = Some(match frame.args_insertion.clone() {
                            Some(insertion) => insertion,
                            None => mapping_insertion(&frame, start.index, item),
                        });
                    }
                    _ => {}
                }
                if let Some(parent) = stack.last_mut() {
                    child_done(parent, end.index);
                }
                continue;
            }
            EventData::Scalar { value, .. } => {
                let Some(parent) = stack.last_mut() else {
                    continue;
                };
                parent.column.get_or_insert(start.column);
                if parent.map && parent.key.is_none() {
                    parent.key = Some(value);
                } else {
                    if parent.role == Role::Provider && parent.key.as_deref() == Some("name") {
                        parent.name = Some(value);
                    }
                    child_done(parent, end.index);
                }
                None
            }
            _ => None,
        };
        if let Some((map, flow)) = opened {
            let role = match stack.last() {
                None => Role::Root,
                Some(parent) => match (parent.role, parent.key.as_deref()) {
                    (Role::Root, Some("providers")) => Role::Providers,
                    (Role::Providers, _) => Role::Provider,
                    (Role::Provider, Some("args")) => Role::Args,
                    _ => Role::Other,
                },
            };
            if let Some(parent) = stack.last_mut() {
                parent.column.get_or_insert(start.column);
            }
            stack.push(Frame {
                role,
                map,
                flow,
                key: None,
                // A block sequence's `-` column; a mapping's is its first key's.
                column: (!map).then_some(start.column),
                last_end: None,
                children: 0,
                name: None,
                args_insertion: None,
            });
        }
    }
}

/// A mapping's value or a sequence's item ended at `end`.
fn child_done(frame: &mut Frame, end: u64) {
    frame.key = None;
    frame.children += 1;
    frame.last_end = Some(end);
}

/// One more item in an `args` sequence closing at `at`: before a flow sequence's `]`, or on a
/// line of its own after a block sequence's last item, at its items' column.
fn args_insertion(frame: &Frame, at: u64, item: &str) -> Insertion {
    if frame.flow || frame.children == 0 {
        let sep = if frame.children > 0 { ", " } else { "" };
        return (at, format!("{sep}{item}"));
    }
    let column = usize::try_from(frame.column.unwrap_or(0)).unwrap_or(0);
    (
        frame.last_end.unwrap_or(at),
        format!("\n{}- {item}", " ".repeat(column)),
    )
}

/// An `args` entry for a provider mapping without one, closing at `at`.
fn mapping_insertion(frame: &Frame, at: u64, item: &str) -> Insertion {
    if frame.flow {
        return (at, format!(", \"args\": [{item}]"));
    }
    let column = usize::try_from(frame.column.unwrap_or(0)).unwrap_or(0);
    (
        frame.last_end.unwrap_or(at),
        format!("\n{}args: [{item}]", " ".repeat(column)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn block_flow_json_and_missing_args_are_pinned_in_place() {
        let block = "apiVersion: kubelet.config.k8s.io/v1\nkind: CredentialProviderConfig\nproviders:\n  - name: other\n    matchImages: [\"o.io\"]\n    defaultCacheDuration: 1m\n    apiVersion: credentialprovider.kubelet.k8s.io/v1\n    args:\n      - --memory=8Mi\n  - name: p\n    matchImages: [\"r.io\"]\n    defaultCacheDuration: 1m\n    apiVersion: credentialprovider.kubelet.k8s.io/v1\n    args:\n      - --memory=32Mi # the guest's memory\n    env:\n      - {name: A, value: b}\n";
        let edited = add_pin(block, "p", HEX).unwrap();
        assert!(
            edited.contains(&format!(
                "      - --memory=32Mi\n      - \"--sha256={HEX}\" # the guest's memory\n"
            )),
            "{edited}"
        );
        assert!(
            edited.contains("      - --memory=8Mi\n  - name: p"),
            "other provider untouched:\n{edited}"
        );

        let flow = block.replace(
            "    args:\n      - --memory=32Mi # the guest's memory\n",
            "    args: [--memory=32Mi]\n",
        );
        let edited = add_pin(&flow, "p", HEX).unwrap();
        assert!(
            edited.contains(&format!("args: [--memory=32Mi, \"--sha256={HEX}\"]")),
            "{edited}"
        );

        let missing = block.replace(
            "    args:\n      - --memory=32Mi # the guest's memory\n",
            "",
        );
        let edited = add_pin(&missing, "p", HEX).unwrap();
        assert!(
            edited.contains(&format!("    args: [\"--sha256={HEX}\"]")),
            "{edited}"
        );

        let json = r#"{"apiVersion":"kubelet.config.k8s.io/v1","kind":"CredentialProviderConfig","providers":[{"name":"p","matchImages":["r.io"],"defaultCacheDuration":"1m","apiVersion":"credentialprovider.kubelet.k8s.io/v1","args":["--memory=32Mi"]}]}"#;
        let edited = add_pin(json, "p", HEX).unwrap();
        assert!(
            edited.contains(&format!(r#""args":["--memory=32Mi", "--sha256={HEX}"]"#)),
            "{edited}"
        );
        assert!(serde_json::from_str::<serde_json::Value>(&edited).is_ok());
        let json_without = json.replace(r#","args":["--memory=32Mi"]"#, "");
        let edited = add_pin(&json_without, "p", HEX).unwrap();
        assert!(
            serde_json::from_str::<serde_json::Value>(&edited).is_ok(),
            "{edited}"
        );

        assert!(
            add_pin(block, "absent", HEX)
                .unwrap_err()
                .contains("no provider")
        );
    }

    /// Args written through an alias cannot be extended in place: refused, saying what to add.
    #[test]
    fn what_cannot_be_edited_safely_is_refused_with_the_line_to_add() {
        let aliased = "apiVersion: kubelet.config.k8s.io/v1\nkind: CredentialProviderConfig\nproviders:\n  - name: other\n    matchImages: [\"o.io\"]\n    defaultCacheDuration: 1m\n    apiVersion: credentialprovider.kubelet.k8s.io/v1\n    args: &a [--memory=32Mi]\n  - name: p\n    matchImages: [\"r.io\"]\n    defaultCacheDuration: 1m\n    apiVersion: credentialprovider.kubelet.k8s.io/v1\n    args: *a\n";
        let err = add_pin(aliased, "p", HEX).unwrap_err();
        assert!(
            err.contains(&format!("add --sha256={HEX} to provider \"p\"'s args")),
            "{err}"
        );
    }
}
