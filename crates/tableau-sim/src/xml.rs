//! XML side of the wire: parse `<tsRequest>` (with or without the Tableau namespace, any
//! prefix) into a [`Node`] (attributes and elements only: no Tableau request carries text), and render a [`Node`] as a namespaced `<tsResponse>`.

use quick_xml::escape::{escape, partial_escape};
use quick_xml::events::{BytesStart, Event};
use quick_xml::{Reader, XmlVersion};

use super::errors::{ApiError, ApiResult};
use super::node::Node;

/// Deepest element nesting a Tableau request can need; deeper input is refused, not recursed.
const MAX_DEPTH: usize = 16;

/// Parses a request body. Namespaces and prefixes are ignored: Tableau accepts
/// `<tsRequest>` bare (what TSC sends) as well as namespaced.
pub fn parse(body: &[u8]) -> ApiResult<Node> {
    let text = std::str::from_utf8(body).map_err(|_| ApiError::malformed_payload())?;
    let mut reader = Reader::from_str(text);
    let mut stack: Vec<Node> = Vec::new();
    let mut root: Option<Node> = None;
    loop {
        match reader.read_event() {
            Ok(Event::Start(start)) => {
                if stack.len() >= MAX_DEPTH || root.is_some() {
                    return Err(ApiError::malformed_payload());
                }
                stack.push(element(&start)?);
            }
            Ok(Event::Empty(start)) => {
                let node = element(&start)?;
                close(node, &mut stack, &mut root)?;
            }
            Ok(Event::End(_)) => {
                let node = stack.pop().ok_or_else(ApiError::malformed_payload)?;
                close(node, &mut stack, &mut root)?;
            }
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(_) => return Err(ApiError::malformed_payload()),
        }
    }
    if !stack.is_empty() {
        return Err(ApiError::malformed_payload());
    }
    root.ok_or_else(ApiError::malformed_payload)
}

fn close(node: Node, stack: &mut [Node], root: &mut Option<Node>) -> ApiResult<()> {
    match stack.last_mut() {
        Some(parent) => parent.children.push(node),
        None if root.is_none() => *root = Some(node),
        None => return Err(ApiError::malformed_payload()),
    }
    Ok(())
}

fn element(start: &BytesStart<'_>) -> ApiResult<Node> {
    let name = local_name(start.name().as_ref());
    let mut node = Node::new(name);
    for attr in start.attributes() {
        let attr = attr.map_err(|_| ApiError::malformed_payload())?;
        let key: &str = attr.key.as_ref();
        // Namespace declarations and xsi:* are transport, not data.
        if key == "xmlns" || key.starts_with("xmlns:") || key.starts_with("xsi:") {
            continue;
        }
        let value = attr
            .normalized_value(XmlVersion::Implicit1_0)
            .map_err(|_| ApiError::malformed_payload())?;
        node.attrs
            .push((local_name(key).into(), value.into_owned()));
    }
    Ok(node)
}

fn local_name(qname: &str) -> String {
    qname.rsplit(':').next().unwrap_or(qname).to_owned()
}

/// Renders a response document: `<tsResponse xmlns="http://tableau.com/api" …>` with the
/// given children, as Tableau Server does.
pub fn render(children: &[Node], api_version: &str) -> String {
    let mut out = String::with_capacity(256 + children.len() * 128);
    out.push_str("<?xml version='1.0' encoding='UTF-8'?>");
    out.push_str(
        "<tsResponse xmlns=\"http://tableau.com/api\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:schemaLocation=\"http://tableau.com/api https://help.tableau.com/samples/en-us/rest_api/ts-api_",
    );
    out.push_str(&api_version.replace('.', "_"));
    out.push_str(".xsd\">");
    for child in children {
        write_node(&mut out, child);
    }
    out.push_str("</tsResponse>");
    out
}

fn write_node(out: &mut String, node: &Node) {
    out.push('<');
    out.push_str(&node.name);
    for (k, v) in &node.attrs {
        out.push(' ');
        out.push_str(k);
        out.push_str("=\"");
        out.push_str(&escape(v.as_str()));
        out.push('"');
    }
    if node.children.is_empty() && node.text.is_none() {
        out.push_str("/>");
        return;
    }
    out.push('>');
    if let Some(text) = &node.text {
        out.push_str(&partial_escape(text.as_str()));
    }
    for child in &node.children {
        write_node(out, child);
    }
    out.push_str("</");
    out.push_str(&node.name);
    out.push('>');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bare_and_prefixed_requests_alike() {
        let bare =
            parse(br#"<tsRequest><user name="a&amp;b" siteRole="Viewer"/></tsRequest>"#).unwrap();
        let prefixed = parse(
            br#"<?xml version="1.0"?><ts:tsRequest xmlns:ts="http://tableau.com/api"><ts:user name="a&amp;b" siteRole="Viewer"></ts:user></ts:tsRequest>"#,
        )
        .unwrap();
        assert_eq!(bare, prefixed);
        assert_eq!(bare.find("user").unwrap().get("name"), Some("a&b"));
    }

    #[test]
    fn refuses_garbage() {
        assert!(parse(b"<tsRequest><user></tsRequest>").is_err());
        assert!(parse(b"").is_err());
        assert!(parse(b"<a/><b/>").is_err());
        assert!(parse(&[0xff, 0xfe]).is_err());
    }

    #[test]
    fn renders_namespaced_escaped() {
        let doc = render(&[Node::new("user").attr("name", "<x>")], "3.27");
        assert!(doc.contains("xmlns=\"http://tableau.com/api\""));
        assert!(doc.contains("ts-api_3_27.xsd"));
        assert!(doc.contains("<user name=\"&lt;x&gt;\"/>"));
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_any_bytes(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let _ = parse(&bytes);
        }
    }
}
