//! Resolving where an operation points: an explicit `path`, or one key of a path-less `value`.
//!
//! Explicit paths are strict: an unknown attribute or sub-attribute is `invalidPath`, a filter
//! on anything but a multi-valued complex attribute is `invalidPath`. Keys of a path-less
//! `value` are lenient (they come from whole-resource shapes that IdPs echo back): read-only
//! keys are ignored, unknown core keys are ignored, unknown keys of a known extension and keys
//! under an unknown URN are kept verbatim.

use crate::scim::error::{ErrorKind, ScimError, ScimResult};
use crate::scim::filter::{Filter, parse_patch_path};
use crate::scim::schema::{AttrType, AttributeDef, ResourceSchema, SchemaDef};

/// A resolved attribute target.
#[derive(Debug, Clone)]
pub(crate) struct Target<'s> {
    /// The extension URN whose object holds the attribute; `None` for core and common ones.
    pub ext: Option<&'s str>,
    pub def: &'s AttributeDef,
    /// `name.givenName`, `emails[...].value`.
    pub sub: Option<&'s AttributeDef>,
    pub filter: Option<Filter>,
}

/// What an explicit `path` names.
#[derive(Debug, Clone)]
pub(crate) enum PathTarget<'s> {
    /// The whole extension object (`path` = the extension URN).
    Extension(&'s SchemaDef),
    Attribute(Target<'s>),
}

/// Resolve an explicit PATCH `path`.
pub(crate) fn resolve_path<'s>(
    path: &str,
    schema: &'s ResourceSchema,
) -> ScimResult<PathTarget<'s>> {
    if let Some(ext) = schema.extension(path) {
        return Ok(PathTarget::Extension(ext));
    }
    // A malformed filter inside a path is a malformed path (RFC 7644 §3.5.2: invalidPath).
    let parsed = parse_patch_path(path).map_err(|e| match e.kind {
        ErrorKind::InvalidFilter => ScimError::invalid_path(e.detail),
        _ => e,
    })?;
    let attr = &parsed.attr;
    let resolved = schema
        .resolve(attr.urn.as_deref(), &attr.name)
        .ok_or_else(|| ScimError::invalid_path(format!("unknown attribute in path '{path}'")))?;
    let def = resolved.def;
    let sub_name = match (&attr.sub, &parsed.sub) {
        (Some(_), Some(_)) => {
            return Err(ScimError::invalid_path(format!(
                "path '{path}' names two sub-attributes"
            )));
        }
        (a, b) => a.as_deref().or(b.as_deref()),
    };
    let sub = match sub_name {
        None => None,
        Some(name) => Some(def.sub_attribute(name).ok_or_else(|| {
            ScimError::invalid_path(format!(
                "'{}' has no sub-attribute '{name}' (path '{path}')",
                def.name
            ))
        })?),
    };
    if let Some(filter) = &parsed.filter {
        if !(def.multi_valued && def.attr_type == AttrType::Complex) {
            return Err(ScimError::invalid_path(format!(
                "a value filter needs a multi-valued complex attribute (path '{path}')"
            )));
        }
        check_filter_names(filter, def, path)?;
    }
    Ok(PathTarget::Attribute(Target {
        ext: resolved.in_extension.then_some(resolved.schema),
        def,
        sub,
        filter: parsed.filter,
    }))
}

/// Every name inside a value filter must be a sub-attribute of the filtered attribute. The
/// evaluator would let an unknown name match nothing, which for a PATCH would turn a typo into
/// a silent no-op (remove) or a created element (add); a client error is more useful.
fn check_filter_names(filter: &Filter, def: &AttributeDef, path: &str) -> ScimResult<()> {
    match filter {
        Filter::And(a, b) | Filter::Or(a, b) => {
            check_filter_names(a, def, path)?;
            check_filter_names(b, def, path)
        }
        Filter::Not(inner) => check_filter_names(inner, def, path),
        Filter::Present(p) | Filter::Compare(p, _, _) => {
            if p.urn.is_none() && p.sub.is_none() && def.sub_attribute(&p.name).is_some() {
                Ok(())
            } else {
                Err(ScimError::invalid_path(format!(
                    "'{}' has no sub-attribute '{}' (path '{path}')",
                    def.name, p.name
                )))
            }
        }
        Filter::ValuePath(..) => Err(ScimError::invalid_path(format!(
            "value filters do not nest (path '{path}')"
        ))),
    }
}

/// What one key of a path-less `value` object names.
#[derive(Debug, Clone)]
pub(crate) enum KeyTarget<'s> {
    Attribute(Target<'s>),
    /// Kept as sent: an unknown attribute of a known extension (`ext` = its URN) or a key under
    /// an unknown URN at the top level (`ext` = None, `key` = the full key).
    Verbatim {
        ext: Option<&'s str>,
        key: String,
    },
    /// Read-only, write-only or unknown core attribute: silently ignored.
    Ignored,
}

/// Resolve one key of a path-less value. `scope` is the extension whose object the key was
/// found in, when the value was `{"urn:…:enterprise:2.0:User": {...}}` or the path named it.
pub(crate) fn resolve_key<'s>(
    key: &str,
    scope: Option<&'s SchemaDef>,
    schema: &'s ResourceSchema,
) -> KeyTarget<'s> {
    let (urn, rest) = match scope {
        Some(ext) => (Some(ext.id.as_str()), key),
        None => match schema.split_urn(key) {
            Some((urn, rest)) => (Some(urn), rest),
            None if starts_with_ci(key, "urn:") => {
                return KeyTarget::Verbatim {
                    ext: None,
                    key: key.to_string(),
                };
            }
            None => (None, key),
        },
    };
    // Dotted keys (`name.givenName`, Entra with aadOptscim062020). URNs were split off above,
    // so the dots of `2.0` are not mistaken for sub-attribute separators.
    let (name, sub_name) = match rest.split_once('.') {
        Some((n, s)) => (n, Some(s)),
        None => (rest, None),
    };
    let Some(resolved) = schema.resolve(urn, name) else {
        return match urn.and_then(|u| schema.extension(u)) {
            Some(ext) => KeyTarget::Verbatim {
                ext: Some(ext.id.as_str()),
                key: rest.to_string(),
            },
            None => KeyTarget::Ignored,
        };
    };
    let def = resolved.def;
    // A write-only attribute (`password`) is a target, so that its value's type is checked
    // (`apply_to_target` never stores it); a read-only one is ignored.
    let write_only = def.mutability == crate::scim::schema::Mutability::WriteOnly;
    if (is_read_or_write_only(def) && !write_only) || (write_only && sub_name.is_some()) {
        return KeyTarget::Ignored;
    }
    let sub = match sub_name {
        None => None,
        Some(s) => match def.sub_attribute(s) {
            Some(sub) if !is_read_or_write_only(sub) => Some(sub),
            _ => return KeyTarget::Ignored,
        },
    };
    KeyTarget::Attribute(Target {
        ext: resolved.in_extension.then_some(resolved.schema),
        def,
        sub,
        filter: None,
    })
}

fn is_read_or_write_only(def: &AttributeDef) -> bool {
    use crate::scim::schema::Mutability::{ReadOnly, WriteOnly};
    matches!(def.mutability, ReadOnly | WriteOnly)
}

fn starts_with_ci(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len() && s.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::schema::{ENTERPRISE_USER_SCHEMA, SchemaRegistry};

    fn user() -> &'static ResourceSchema {
        &SchemaRegistry::builtin().user
    }

    fn attr(t: PathTarget<'_>) -> Target<'_> {
        match t {
            PathTarget::Attribute(t) => t,
            PathTarget::Extension(e) => panic!("expected an attribute, got extension {}", e.id),
        }
    }

    #[test]
    fn explicit_paths_resolve_case_insensitively() {
        let t = attr(resolve_path("Name.GivenName", user()).unwrap());
        assert_eq!(t.def.name, "name");
        assert_eq!(t.sub.map(|s| s.name.as_str()), Some("givenName"));
        assert!(t.ext.is_none());
        let t = attr(
            resolve_path(
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
                user(),
            )
            .unwrap(),
        );
        assert_eq!(t.ext, Some(ENTERPRISE_USER_SCHEMA));
        assert_eq!(t.def.name, "manager");
        let t = attr(
            resolve_path(
                "urn:ietf:params:scim:schemas:core:2.0:User:userName",
                user(),
            )
            .unwrap(),
        );
        assert_eq!(t.def.name, "userName");
    }

    #[test]
    fn extension_urn_path_names_the_extension() {
        let t = resolve_path(
            "urn:ietf:params:scim:schemas:extension:Enterprise:2.0:User",
            user(),
        )
        .unwrap();
        assert!(matches!(t, PathTarget::Extension(e) if e.id == ENTERPRISE_USER_SCHEMA));
    }

    #[test]
    fn unknown_attributes_are_invalid_path() {
        for p in ["nosuch", "name.nosuch", "userName.x", "urn:x:y:foo"] {
            let e = resolve_path(p, user()).unwrap_err();
            assert_eq!(e.scim_type(), Some("invalidPath"), "{p}");
        }
    }

    #[test]
    fn multi_byte_characters_at_the_urn_boundary_do_not_panic() {
        let u = user();
        for key in [
            "urn:ietf:params:scim:schemas:core:2.0:Useé:x",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:Useé",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\u{e9}x",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:Usé",
        ] {
            assert!(matches!(
                resolve_key(key, None, u),
                KeyTarget::Verbatim { .. }
            ));
        }
    }

    #[test]
    fn path_less_keys() {
        let u = user();
        assert!(matches!(resolve_key("id", None, u), KeyTarget::Ignored));
        assert!(matches!(resolve_key("meta", None, u), KeyTarget::Ignored));
        assert!(matches!(resolve_key("groups", None, u), KeyTarget::Ignored));
        // `password` is a target (its type is checked) that is never stored.
        let KeyTarget::Attribute(t) = resolve_key("password", None, u) else {
            panic!("password")
        };
        assert_eq!(t.def.name, "password");
        assert!(matches!(resolve_key("bogus", None, u), KeyTarget::Ignored));
        let KeyTarget::Attribute(t) = resolve_key("name.givenName", None, u) else {
            panic!("dotted key")
        };
        assert_eq!(t.sub.map(|s| s.name.as_str()), Some("givenName"));
        let key = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber";
        let KeyTarget::Attribute(t) = resolve_key(key, None, u) else {
            panic!("urn key")
        };
        assert_eq!(t.ext, Some(ENTERPRISE_USER_SCHEMA));
        let key = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:tag";
        assert!(matches!(
            resolve_key(key, None, u),
            KeyTarget::Verbatim { ext: Some(ENTERPRISE_USER_SCHEMA), ref key } if key == "tag"
        ));
        let key = "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User";
        assert!(matches!(
            resolve_key(key, None, u),
            KeyTarget::Verbatim { ext: None, .. }
        ));
    }
}
