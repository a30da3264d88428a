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
    let mut node = Node::new(name);
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
            Value::String(s) => node.attrs.push((key, s)),
            Value::Bool(b) => node.attrs.push((key, b.to_string())),
            Value::Number(n) => node.attrs.push((key, n.to_string())),
            Value::Null => {}
        }
    }
    Ok(node)
}

/// Renders response children as one JSON object, e.g. `{"pagination":{…},"users":{"user":[…]}}`.
pub fn render(children: &[Node]) -> String {
    let mut root = Map::new();
    for child in children {
        root.insert(child.name.clone(), node_to_value(child));
    }
    Value::Object(root).to_string()
}

fn node_to_value(node: &Node) -> Value {
    let mut map = Map::new();
    match &node.text {
        // `<summary>text</summary>` → `"summary":"text"`
        Some(text) if node.attrs.is_empty() => return Value::String(text.clone()),
        // `<productVersion build="…">2025.3.0</productVersion>` → `{"value":"2025.3.0","build":"…"}`
        Some(text) => {
            map.insert("value".to_owned(), Value::String(text.clone()));
        }
        None => {}
    }
    for (k, v) in &node.attrs {
        map.insert(k.clone(), Value::String(v.clone()));
    }
    if node.is_list {
        if let Some(first) = node.children.first() {
            let items = node.children.iter().map(node_to_value).collect();
            map.insert(first.name.clone(), Value::Array(items));
        }
    } else {
        for child in &node.children {
            map.insert(child.name.clone(), node_to_value(child));
        }
    }
    Value::Object(map)
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
        assert!(parse(b"{").is_err());
    }
}
