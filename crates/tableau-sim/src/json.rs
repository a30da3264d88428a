//! JSON side of the wire, the mechanical image of the XML: objects are elements, string
//! properties are attributes (every scalar rendered as a string), a plural wrapper holds an
//! array under the singular name, and an empty list is `{}`.

use serde_json::{Map, Value};

use super::errors::{ApiError, ApiResult};
use super::node::Node;

const MAX_DEPTH: usize = 16;

/// Parses a request body into a `tsRequest` node. Scalars of any JSON type become attribute
/// strings (Tableau's deserialiser coerces them); arrays become repeated children.
pub fn parse(body: &[u8]) -> ApiResult<Node> {
    let value: Value = serde_json::from_slice(body).map_err(|_| ApiError::malformed_payload())?;
    let Value::Object(map) = value else {
        return Err(ApiError::malformed_payload());
    };
    object_to_node("tsRequest", map, 0)
}

fn object_to_node(name: &str, map: Map<String, Value>, depth: usize) -> ApiResult<Node> {
    if depth > MAX_DEPTH {
        return Err(ApiError::malformed_payload());
    }
    let mut node = Node::new(name.to_owned());
    for (key, value) in map {
        match value {
            Value::Object(inner) => node.children.push(object_to_node(&key, inner, depth + 1)?),
            Value::Array(items) => {
                // `{"users":{"user":[…]}}`: each item is one `user` child of `users`.
                node.is_list = true;
                for item in items {
                    match item {
                        Value::Object(inner) => {
                            node.children.push(object_to_node(&key, inner, depth + 1)?)
                        }
                        _ => return Err(ApiError::malformed_payload()),
                    }
                }
            }
            Value::String(s) => node.attrs.push((key.into(), s)),
            Value::Bool(b) => node.attrs.push((key.into(), b.to_string())),
            Value::Number(n) => node.attrs.push((key.into(), n.to_string())),
            Value::Null => {}
        }
    }
    Ok(node)
}

/// Renders response children as one JSON object, e.g. `{"pagination":{…},"users":{"user":[…]}}`.
/// Written straight into a string (no intermediate `Value`): list answers are the hot path.
pub fn render(children: &[Node]) -> String {
    let mut out = String::with_capacity(64 + children.len() * 256);
    out.push('{');
    for (i, child) in children.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_str(&mut out, &child.name);
        out.push(':');
        write_node(&mut out, child);
    }
    out.push('}');
    out
}

fn write_node(out: &mut String, node: &Node) {
    match &node.text {
        // `<summary>text</summary>` → `"summary":"text"`
        Some(text) if node.attrs.is_empty() => return write_str(out, text),
        _ => {}
    }
    out.push('{');
    let mut first = true;
    let mut key = |out: &mut String, k: &str| {
        if !std::mem::take(&mut first) {
            out.push(',');
        }
        write_str(out, k);
        out.push(':');
    };
    // `<productVersion build="…">2025.3.0</productVersion>` → `{"value":"2025.3.0","build":"…"}`
    if let Some(text) = &node.text {
        key(out, "value");
        write_str(out, text);
    }
    for (k, v) in &node.attrs {
        key(out, k);
        write_str(out, v);
    }
    if node.is_list {
        if let Some(first_child) = node.children.first() {
            key(out, &first_child.name);
            out.push('[');
            for (i, child) in node.children.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_node(out, child);
            }
            out.push(']');
        }
    } else {
        for child in &node.children {
            key(out, &child.name);
            write_node(out, child);
        }
    }
    out.push('}');
}

/// A JSON string literal with JSON escaping.
fn write_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_render_as_arrays_or_empty_objects() {
        let users = Node::list("users", vec![Node::new("user").attr("id", "1")]);
        let empty = Node::list("groups", vec![]);
        let page = Node::new("pagination").attr("pageNumber", "1");
        assert_eq!(
            render(&[page, users, empty]),
            r#"{"pagination":{"pageNumber":"1"},"users":{"user":[{"id":"1"}]},"groups":{}}"#
        );
    }

    #[test]
    fn parses_nested_objects_and_arrays() {
        let node = parse(br#"{"users":{"user":[{"id":"a"},{"id":"b"}]}}"#).unwrap();
        let users = node.find("users").unwrap();
        assert_eq!(users.children.len(), 2);
        assert_eq!(users.children[1].get("id"), Some("b"));
        let node = parse(br#"{"user":{"name":"x","n":3}}"#).unwrap();
        assert_eq!(node.find("user").unwrap().get("n"), Some("3"));
        assert!(parse(b"[1]").is_err());
        let tricky = Node::new("user").attr("name", "a\"b\\c\nd\u{1}");
        let rendered = render(&[tricky]);
        let back: Value = serde_json::from_str(&rendered).unwrap();
        assert_eq!(back["user"]["name"], "a\"b\\c\nd\u{1}");
        assert!(parse(b"{").is_err());
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_any_text(text in "\\PC{0,200}") {
            let _ = parse(text.as_bytes());
        }
    }
}
