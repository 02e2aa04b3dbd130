//! The first YAML document as go-yaml v2's node tree (`decode.go`'s `parser`), built from the
//! events of `libyaml-safer` (a safe Rust port of libyaml, which go-yaml v2 also ports): scalar
//! text, tag, style and line kept, anchors registered when their node starts, aliases resolved
//! to the node they name. Scanner and parser errors are worded as go-yaml words them, with its
//! line-number rule.

use std::collections::HashMap;

use libyaml_safer::{ErrorKind, EventData, Parser, ScalarStyle};

use crate::limits::MAX_CONFIG_NESTING;

/// What a node is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeKind {
    /// A scalar.
    Scalar,
    /// A sequence.
    Sequence,
    /// A mapping (children are key, value, key, value, ...).
    Mapping,
    /// An alias of the node `alias`.
    Alias,
}

/// One node of the document.
#[derive(Clone, Debug)]
pub struct Node {
    /// Its kind.
    pub kind: NodeKind,
    /// Zero-based line of its first event.
    pub line: u64,
    /// The resolved tag (`tag:yaml.org,2002:int`, `!custom`), empty when none was written.
    pub tag: String,
    /// Scalar text, or the anchor name of an alias.
    pub value: String,
    /// libyaml's `plain_implicit`: an untagged plain scalar (quoted ones are strings).
    pub implicit: bool,
    /// Child node indices.
    pub children: Vec<usize>,
    /// For an alias, the index of the node it names.
    pub alias: Option<usize>,
}

/// The document's nodes; `root` is `None` for an empty stream.
#[derive(Debug, Default)]
pub struct Document {
    /// Every node, parents before children.
    pub nodes: Vec<Node>,
    /// The document's top node.
    pub root: Option<usize>,
}

/// go-yaml's `parser.fail`: `line N: problem`, where N is the problem mark's line (one more for
/// a scanner error) or else the context mark's line, or no line when both are 0.
fn go_yaml_message(err: &libyaml_safer::Error) -> String {
    let problem_line = err.problem_mark().map_or(0, |m| m.line);
    let context_line = err.context_mark().map_or(0, |m| m.line);
    let line = if problem_line != 0 {
        if err.kind() == ErrorKind::Scanner {
            problem_line + 1
        } else {
            problem_line
        }
    } else {
        context_line
    };
    let problem = match err.problem() {
        "" => "unknown problem parsing YAML content",
        p => p,
    };
    if line != 0 {
        format!("yaml: line {line}: {problem}")
    } else {
        format!("yaml: {problem}")
    }
}

fn collection_node(kind: NodeKind, line: u64, tag: Option<String>) -> Node {
    Node {
        kind,
        line,
        tag: tag.unwrap_or_default(),
        value: String::new(),
        implicit: false,
        children: Vec::new(),
        alias: None,
    }
}

/// Parses `text` up to the end of its first document. Errors are go-yaml's texts.
pub fn first_document(text: &str) -> Result<Document, String> {
    // libyaml-safer 0.3 panics on a block scalar (`|`, `>`) whose last line ends the input
    // without a line break, where libyaml and go-yaml just end the scalar. Such input is read
    // with a line break added, and the break that adds to the scalar taken off again (go-yaml
    // keeps no final break it never read). Any other input is read as it is, so error marks
    // at the end of the stream stay go-yaml's.
    if !ends_with_break(text) {
        let augmented = format!("{text}\n");
        let chars = text.chars().count() as u64;
        if block_scalar_reaches(&augmented, chars) {
            return compose(&augmented, Some(chars));
        }
    }
    compose(text, None)
}

fn ends_with_break(text: &str) -> bool {
    text.ends_with(['\n', '\r', '\u{85}', '\u{2028}', '\u{2029}'])
}

/// Whether a block scalar of `text` runs to character `end` (or past it).
fn block_scalar_reaches(text: &str, end: u64) -> bool {
    let mut input = text.as_bytes();
    let mut parser = Parser::new();
    parser.set_input_string(&mut input);
    while let Ok(event) = parser.parse() {
        match event.data {
            EventData::StreamEnd => return false,
            EventData::Scalar { style, .. }
                if matches!(style, ScalarStyle::Literal | ScalarStyle::Folded)
                    && event.end_mark.index >= end =>
            {
                return true;
            }
            _ => {}
        }
    }
    false
}

/// The node tree of `text`'s first document; with `added_break_at`, the block scalar running
/// past that character loses the line break the added one gave it.
fn compose(text: &str, added_break_at: Option<u64>) -> Result<Document, String> {
    let mut input = text.as_bytes();
    let mut parser = Parser::new();
    parser.set_input_string(&mut input);
    let mut doc = Document::default();
    let mut anchors: HashMap<String, usize> = HashMap::new();
    // Open collections, innermost last.
    let mut open: Vec<usize> = Vec::new();
    let mut in_document = false;
    loop {
        let event = parser.parse().map_err(|e| go_yaml_message(&e))?;
        let line = event.start_mark.line;
        let (node, anchor) = match event.data {
            EventData::StreamStart { .. } => continue,
            EventData::StreamEnd => return Ok(doc),
            EventData::DocumentStart { .. } => {
                in_document = true;
                continue;
            }
            EventData::DocumentEnd { .. } => return Ok(doc),
            EventData::SequenceEnd | EventData::MappingEnd => {
                open.pop();
                continue;
            }
            EventData::Alias { anchor } => {
                let Some(&target) = anchors.get(&anchor) else {
                    return Err(format!("yaml: unknown anchor '{anchor}' referenced"));
                };
                let node = Node {
                    kind: NodeKind::Alias,
                    line,
                    tag: String::new(),
                    value: anchor,
                    implicit: false,
                    children: Vec::new(),
                    alias: Some(target),
                };
                (node, None)
            }
            EventData::Scalar {
                anchor,
                tag,
                mut value,
                plain_implicit,
                style,
                ..
            } => {
                if added_break_at.is_some_and(|end| event.end_mark.index >= end)
                    && matches!(style, ScalarStyle::Literal | ScalarStyle::Folded)
                    && value.ends_with('\n')
                {
                    value.pop();
                }
                (
                    Node {
                        kind: NodeKind::Scalar,
                        line,
                        tag: tag.unwrap_or_default(),
                        value,
                        implicit: plain_implicit,
                        children: Vec::new(),
                        alias: None,
                    },
                    anchor,
                )
            }
            EventData::SequenceStart { anchor, tag, .. } => {
                (collection_node(NodeKind::Sequence, line, tag), anchor)
            }
            EventData::MappingStart { anchor, tag, .. } => {
                (collection_node(NodeKind::Mapping, line, tag), anchor)
            }
        };
        debug_assert!(in_document);
        let index = doc.nodes.len();
        let collection = matches!(node.kind, NodeKind::Sequence | NodeKind::Mapping);
        doc.nodes.push(node);
        if let Some(anchor) = anchor {
            anchors.insert(anchor, index);
        }
        match open.last() {
            Some(&parent) => doc.nodes[parent].children.push(index),
            None => doc.root = Some(index),
        }
        if collection {
            if open.len() >= MAX_CONFIG_NESTING {
                return Err(format!(
                    "the YAML nests deeper than {MAX_CONFIG_NESTING} levels (this tool's limit)"
                ));
            }
            open.push(index);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_read_like_go_yaml() {
        // Scanner error: problem line + 1.
        assert_eq!(
            first_document("a:\n  b: c\n\td: e\n").unwrap_err(),
            "yaml: line 3: found a tab character that violates indentation"
        );
        assert_eq!(
            first_document("a: b\nc\nd: e\n").unwrap_err(),
            "yaml: line 3: could not find expected ':'"
        );
        assert_eq!(
            first_document("a: *x\n").unwrap_err(),
            "yaml: unknown anchor 'x' referenced"
        );
    }

    #[test]
    fn only_the_first_document_is_read() {
        let doc = first_document("a: 1\n---\nb: [\n").unwrap();
        assert_eq!(doc.nodes[doc.root.unwrap()].children.len(), 2);
        assert!(first_document("# only a comment\n").unwrap().root.is_none());
    }

    #[test]
    fn a_block_scalar_may_end_the_input() {
        for (text, value) in [
            ("a: |\n  x", "x"),
            ("a: |+\n  x", "x"),
            ("a: |-\n  x", "x"),
            ("a: >\n  x\n  y", "x y"),
            ("a: |\n  x\n", "x\n"),
        ] {
            let doc = first_document(text).unwrap();
            assert_eq!(doc.nodes[2].value, value, "{text:?}");
        }
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = "[".repeat(MAX_CONFIG_NESTING + 1);
        assert!(first_document(&deep).unwrap_err().contains("nests deeper"));
    }
}
