//! STS's XML replies, read with quick-xml: the text of every element, found by the local
//! names on its path (`Credentials/AccessKeyId`), namespaces and attributes ignored.

use quick_xml::events::Event;

/// A parsed reply: each element's path of local names and its text (entities and character
/// references resolved, CDATA as is), in document order.
#[derive(Debug, Default)]
pub struct Document {
    elements: Vec<(Vec<String>, String)>,
}

/// Why a reply is not XML (no content quoted: it may hold credentials).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotXml;

impl Document {
    /// Parses `xml`; a syntax error, an unknown entity or an unclosed element is [`NotXml`].
    pub fn parse(xml: &str) -> Result<Document, NotXml> {
        let mut reader = quick_xml::Reader::from_str(xml);
        let mut document = Document::default();
        let mut path: Vec<String> = Vec::new();
        // Index in `elements` of each open element, innermost last.
        let mut open: Vec<usize> = Vec::new();
        loop {
            let event = reader.read_event().map_err(|_| NotXml)?;
            let text = match event {
                Event::Start(start) => {
                    path.push(local_name(start.local_name().as_ref())?);
                    open.push(document.elements.len());
                    document.elements.push((path.clone(), String::new()));
                    continue;
                }
                Event::Empty(start) => {
                    let mut empty = path.clone();
                    empty.push(local_name(start.local_name().as_ref())?);
                    document.elements.push((empty, String::new()));
                    continue;
                }
                Event::End(_) => {
                    path.pop();
                    open.pop();
                    continue;
                }
                Event::Text(text) => text.decode().map_err(|_| NotXml)?.into_owned(),
                Event::CData(data) => data.decode().map_err(|_| NotXml)?.into_owned(),
                Event::GeneralRef(reference) => match reference.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    Ok(None) => {
                        let name = reference.decode().map_err(|_| NotXml)?;
                        quick_xml::escape::resolve_predefined_entity(&name)
                            .ok_or(NotXml)?
                            .to_owned()
                    }
                    Err(_) => return Err(NotXml),
                },
                Event::Eof if open.is_empty() => return Ok(document),
                Event::Eof => return Err(NotXml),
                Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {
                    continue;
                }
            };
            if let Some(&index) = open.last() {
                document.elements[index].1.push_str(&text);
            }
        }
    }

    /// Whether an element whose path ends with `path` exists.
    pub fn has(&self, path: &[&str]) -> bool {
        self.find(path).is_some()
    }

    /// The trimmed text of the first element whose path ends with `path`.
    pub fn text(&self, path: &[&str]) -> Option<&str> {
        self.find(path).map(str::trim)
    }

    fn find(&self, path: &[&str]) -> Option<&str> {
        self.elements
            .iter()
            .find(|(names, _)| {
                names.len() >= path.len() && names[names.len() - path.len()..] == *path
            })
            .map(|(_, text)| text.as_str())
    }
}

fn local_name(bytes: &[u8]) -> Result<String, NotXml> {
    std::str::from_utf8(bytes)
        .map(str::to_owned)
        .map_err(|_| NotXml)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_an_sts_reply() {
        let xml = r#"<?xml version="1.0"?>
<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <SubjectFromWebIdentityToken>system:serviceaccount:ns:sa</SubjectFromWebIdentityToken>
    <Credentials>
      <SessionToken>tok&amp;en</SessionToken>
      <SecretAccessKey>sec&#x2F;ret</SecretAccessKey>
      <Expiration><![CDATA[2026-01-01T00:00:00Z]]></Expiration>
      <AccessKeyId>ASIA</AccessKeyId>
    </Credentials>
  </AssumeRoleWithWebIdentityResult>
  <!-- a comment -->
</AssumeRoleWithWebIdentityResponse>"#;
        let doc = Document::parse(xml).unwrap();
        assert!(doc.has(&["Credentials"]));
        assert_eq!(doc.text(&["Credentials", "SessionToken"]), Some("tok&en"));
        assert_eq!(
            doc.text(&["Credentials", "SecretAccessKey"]),
            Some("sec/ret")
        );
        assert_eq!(
            doc.text(&["Credentials", "Expiration"]),
            Some("2026-01-01T00:00:00Z")
        );
        assert_eq!(doc.text(&["Credentials", "AccessKeyId"]), Some("ASIA"));
        assert_eq!(doc.text(&["Nope"]), None);
        // A path matches whole names, at the end of the element's path.
        assert_eq!(doc.text(&["AccessKey"]), None);
        assert_eq!(doc.text(&["Result", "Credentials"]), None);
    }

    #[test]
    fn reads_errors_and_empty_elements() {
        let doc = Document::parse(
            "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>Not authorized &lt;x&gt;</Message></Error><RequestId/></ErrorResponse>",
        )
        .unwrap();
        assert_eq!(doc.text(&["Error", "Code"]), Some("AccessDenied"));
        assert_eq!(doc.text(&["Error", "Message"]), Some("Not authorized <x>"));
        assert_eq!(doc.text(&["RequestId"]), Some(""));
    }

    #[test]
    fn refuses_what_is_not_xml() {
        for bad in [
            "<A>unterminated",
            "<A>x</B>",
            "<A>&bogus;</A>",
            "<A>&#0;</A>",
        ] {
            assert_eq!(Document::parse(bad).unwrap_err(), NotXml, "{bad}");
        }
    }
}
