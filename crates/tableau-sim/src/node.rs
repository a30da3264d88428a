//! The neutral document tree both wire formats map onto.
//!
//! Tableau's JSON is a mechanical image of its XML: elements become object keys, attributes
//! become string properties, and a plural wrapper (`users`) holds its repeated children as an
//! array under the singular name (`{"users":{"user":[…]}}`, `{}` when empty). Handlers build and
//! read this one tree, so the two formats can never drift apart.

use std::borrow::Cow;

/// Element and attribute names: static in responses (no allocation on the hot list path),
/// owned when parsed from a request.
pub type Name = Cow<'static, str>;

/// One element: attributes in insertion order, then child elements, or text (error summary).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Node {
    pub name: Name,
    pub attrs: Vec<(Name, String)>,
    pub children: Vec<Node>,
    pub text: Option<String>,
    /// A plural wrapper (`users`, `groups`): JSON renders its children as an array.
    pub is_list: bool,
}

impl Node {
    pub fn new(name: impl Into<Name>) -> Self {
        Self {
            name: name.into(),
            ..Self::default()
        }
    }

    /// A plural wrapper such as `<users>`.
    pub fn list(name: impl Into<Name>, children: Vec<Node>) -> Self {
        Self {
            name: name.into(),
            children,
            is_list: true,
            ..Self::default()
        }
    }

    pub fn text_element(name: impl Into<Name>, text: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            text: Some(text.into()),
            ..Self::default()
        }
    }

    pub fn attr(mut self, key: &'static str, value: impl Into<String>) -> Self {
        self.attrs.push((Cow::Borrowed(key), value.into()));
        self
    }

    pub fn attr_opt(self, key: &'static str, value: Option<impl Into<String>>) -> Self {
        match value {
            Some(v) => self.attr(key, v),
            None => self,
        }
    }

    pub fn child(mut self, child: Node) -> Self {
        self.children.push(child);
        self
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn find(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }
}
