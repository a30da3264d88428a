//! Schema definitions (RFC 7643 §7) loaded from the JSON files in `schemas/`. These files are
//! the single source of truth: `/Schemas` and `/ResourceTypes` serve them, and validation,
//! filtering (caseExact), PATCH (types, mutability) and projection (returned) read them.

use serde::Deserialize;
use serde_json::Value;
use std::sync::{Arc, OnceLock};

pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const ENTERPRISE_USER_SCHEMA: &str =
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const TABLEAU_USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:extension:tableau:3.0:User";
/// The URN Tableau's own SCIM service takes `siteRoles` and `entitlements` under (its Add User
/// body), without our schema's `:User` suffix: what the Okta and Entra "Tableau Cloud" apps send.
pub const TABLEAU_NATIVE_SCHEMA: &str = "urn:ietf:params:scim:schemas:extension:tableau:3.0";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AttrType {
    String,
    Boolean,
    Decimal,
    Integer,
    DateTime,
    Binary,
    Reference,
    Complex,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub enum Mutability {
    ReadOnly,
    #[default]
    ReadWrite,
    Immutable,
    WriteOnly,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub enum Returned {
    Always,
    Never,
    #[default]
    Default,
    Request,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub enum Uniqueness {
    #[default]
    None,
    Server,
    Global,
}

/// One attribute definition, as in a `/Schemas` document.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttributeDef {
    pub name: String,
    #[serde(rename = "type")]
    pub attr_type: AttrType,
    #[serde(default)]
    pub multi_valued: bool,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub case_exact: bool,
    #[serde(default)]
    pub mutability: Mutability,
    #[serde(default)]
    pub returned: Returned,
    #[serde(default)]
    pub uniqueness: Uniqueness,
    #[serde(default)]
    pub canonical_values: Vec<String>,
    #[serde(default)]
    pub sub_attributes: Vec<AttributeDef>,
    /// Set at load time for the Tableau extensions' `siteRoles` and `entitlements` (see
    /// `add_replaces_values`); not part of the served schema.
    #[serde(skip)]
    pub holds_one_site_role: bool,
}

impl AttributeDef {
    /// Whether a PATCH `add` sets this multi-valued attribute instead of appending to it.
    /// True only for the Tableau extensions' `siteRoles` and `entitlements`: a Tableau user
    /// holds exactly one site role, so roles added over time must not pile up into a list where
    /// the highest stale role would keep winning. Tableau's own SCIM service behaves the same
    /// way. The core schema's `entitlements` keeps RFC 7644's append.
    pub fn add_replaces_values(&self) -> bool {
        self.multi_valued && self.holds_one_site_role
    }

    /// Sub-attribute by name, case-insensitively.
    pub fn sub_attribute(&self, name: &str) -> Option<&AttributeDef> {
        self.sub_attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }
}

/// One schema (`urn:...:User`, an extension, ...).
#[derive(Debug, Clone, Deserialize)]
pub struct SchemaDef {
    pub id: String,
    pub name: String,
    pub attributes: Vec<AttributeDef>,
    /// The document as served by `/Schemas/{id}` (without `meta`, which is added per request).
    #[serde(skip)]
    pub document: Value,
}

impl SchemaDef {
    pub fn attribute(&self, name: &str) -> Option<&AttributeDef> {
        self.attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct SchemaExtensionRef {
    pub schema: String,
    pub required: bool,
}

/// A resource type (`User`, `Group`) as served by `/ResourceTypes/{id}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceTypeDef {
    pub id: String,
    pub name: String,
    pub endpoint: String,
    pub schema: String,
    #[serde(default)]
    pub schema_extensions: Vec<SchemaExtensionRef>,
    #[serde(skip)]
    pub document: Value,
}

pub use crate::model::ResourceKind;

/// A resource type with its core schema and extensions resolved: what filter evaluation,
/// PATCH and projection need to interpret one resource document.
#[derive(Debug, Clone)]
pub struct ResourceSchema {
    pub kind: ResourceKind,
    pub resource_type: ResourceTypeDef,
    pub core: SchemaDef,
    pub extensions: Vec<SchemaDef>,
    /// `id`, `externalId`, `schemas`, `meta`: attributes of every resource (RFC 7643 §3.1),
    /// defined in `schemas/CommonAttributes.json` and not served as a schema of their own.
    pub common: Vec<AttributeDef>,
}

/// Where an attribute path points: the schema that defines it and its definition.
#[derive(Debug, Clone, Copy)]
pub struct ResolvedAttr<'a> {
    /// The schema URN. For an extension attribute the value lives under this key in the document.
    pub schema: &'a str,
    /// True when the attribute belongs to an extension (stored under the URN key).
    pub in_extension: bool,
    pub def: &'a AttributeDef,
}

impl ResourceSchema {
    /// All schemas of this resource type, core first.
    pub fn schemas(&self) -> impl Iterator<Item = &SchemaDef> {
        std::iter::once(&self.core).chain(self.extensions.iter())
    }

    /// The extension schema with this URN (case-insensitive), if the resource type has it.
    pub fn extension(&self, urn: &str) -> Option<&SchemaDef> {
        self.extensions
            .iter()
            .find(|s| s.id.eq_ignore_ascii_case(urn))
    }

    /// Resolve a top-level attribute name, optionally qualified by a schema URN. An unqualified
    /// name is looked up in the core schema first, then in the extensions.
    pub fn resolve(&self, urn: Option<&str>, name: &str) -> Option<ResolvedAttr<'_>> {
        let common = || {
            self.common
                .iter()
                .find(|a| a.name.eq_ignore_ascii_case(name))
                .map(|def| ResolvedAttr {
                    schema: &self.core.id,
                    in_extension: false,
                    def,
                })
        };
        match urn {
            Some(urn) if urn.eq_ignore_ascii_case(&self.core.id) => self
                .core
                .attribute(name)
                .map(|def| ResolvedAttr {
                    schema: &self.core.id,
                    in_extension: false,
                    def,
                })
                .or_else(common),
            Some(urn) => self.extension(urn).and_then(|s| {
                s.attribute(name).map(|def| ResolvedAttr {
                    schema: &s.id,
                    in_extension: true,
                    def,
                })
            }),
            None => common()
                .or_else(|| {
                    self.core.attribute(name).map(|def| ResolvedAttr {
                        schema: &self.core.id,
                        in_extension: false,
                        def,
                    })
                })
                .or_else(|| {
                    self.extensions.iter().find_map(|s| {
                        s.attribute(name).map(|def| ResolvedAttr {
                            schema: &s.id,
                            in_extension: true,
                            def,
                        })
                    })
                }),
        }
    }

    /// Split a full attribute name such as
    /// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager` into the URN of one
    /// of this resource's schemas and the rest (`manager`). Used for path-less PATCH keys and
    /// `attributes=` lists. Returns `None` when the name starts with no known schema URN.
    ///
    /// The longest matching URN wins: Tableau's `urn:…:tableau:3.0` is a prefix of our
    /// `urn:…:tableau:3.0:User`, and `urn:…:tableau:3.0:User:siteRoles` means ours.
    pub fn split_urn<'n>(&self, full: &'n str) -> Option<(&str, &'n str)> {
        self.schemas()
            .filter_map(|s| {
                let id = s.id.as_str();
                // Compare bytes, not a `str` slice: the cut may fall inside a multi-byte character
                // of client input. After a matching ASCII URN and ':' the rest is a char boundary.
                let bytes = full.as_bytes();
                let matches = bytes
                    .get(..id.len())
                    .is_some_and(|p| p.eq_ignore_ascii_case(id.as_bytes()))
                    && bytes.get(id.len()) == Some(&b':');
                if matches {
                    full.get(id.len() + 1..).map(|rest| (id, rest))
                } else {
                    None
                }
            })
            .max_by_key(|(id, _)| id.len())
    }
}

/// All schemas and resource types the server knows, loaded once from `schemas/`.
#[derive(Debug)]
pub struct SchemaRegistry {
    pub schemas: Vec<SchemaDef>,
    pub resource_types: Vec<ResourceTypeDef>,
    pub user: Arc<ResourceSchema>,
    pub group: Arc<ResourceSchema>,
}

const SCHEMA_FILES: &[&str] = &[
    include_str!("../../schemas/User.json"),
    include_str!("../../schemas/Group.json"),
    include_str!("../../schemas/EnterpriseUser.json"),
    include_str!("../../schemas/TableauUser.json"),
    include_str!("../../schemas/TableauNative.json"),
];
const COMMON_ATTRIBUTES_FILE: &str = include_str!("../../schemas/CommonAttributes.json");
const RESOURCE_TYPE_FILES: &[&str] = &[
    include_str!("../../schemas/ResourceType-User.json"),
    include_str!("../../schemas/ResourceType-Group.json"),
];

impl SchemaRegistry {
    /// The registry built from the schema files compiled into the binary. The files are part of
    /// the source tree and covered by tests, so a parse failure here is a build defect.
    #[allow(
        clippy::expect_used,
        reason = "the schema files are compiled in and parsed by unit tests; no input reaches this"
    )]
    pub fn builtin() -> &'static SchemaRegistry {
        static REGISTRY: OnceLock<SchemaRegistry> = OnceLock::new();
        REGISTRY.get_or_init(|| {
            Self::from_documents(SCHEMA_FILES, RESOURCE_TYPE_FILES, COMMON_ATTRIBUTES_FILE)
                .expect("schemas/*.json compiled into the binary are valid")
        })
    }

    pub fn from_documents(
        schemas: &[&str],
        resource_types: &[&str],
        common_attributes: &str,
    ) -> Result<Self, String> {
        #[derive(Deserialize)]
        struct Common {
            attributes: Vec<AttributeDef>,
        }
        let common: Common = serde_json::from_str(common_attributes).map_err(|e| e.to_string())?;
        let mut schema_defs = Vec::new();
        for text in schemas {
            let document: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
            let mut def: SchemaDef =
                serde_json::from_value(document.clone()).map_err(|e| e.to_string())?;
            if def.id.eq_ignore_ascii_case(TABLEAU_USER_SCHEMA)
                || def.id.eq_ignore_ascii_case(TABLEAU_NATIVE_SCHEMA)
            {
                for attr in &mut def.attributes {
                    attr.holds_one_site_role = attr.multi_valued
                        && (attr.name == "siteRoles" || attr.name == "entitlements");
                }
            }
            def.document = document;
            schema_defs.push(def);
        }
        let mut rt_defs = Vec::new();
        for text in resource_types {
            let document: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
            let mut def: ResourceTypeDef =
                serde_json::from_value(document.clone()).map_err(|e| e.to_string())?;
            def.document = document;
            rt_defs.push(def);
        }
        let build = |kind: ResourceKind| -> Result<Arc<ResourceSchema>, String> {
            let rt = rt_defs
                .iter()
                .find(|r| r.id == kind.as_str())
                .ok_or_else(|| format!("resource type {} missing", kind.as_str()))?;
            let find = |id: &str| {
                schema_defs
                    .iter()
                    .find(|s| s.id == id)
                    .cloned()
                    .ok_or_else(|| format!("schema {id} missing"))
            };
            let core = find(&rt.schema)?;
            let extensions = rt
                .schema_extensions
                .iter()
                .map(|e| find(&e.schema))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Arc::new(ResourceSchema {
                kind,
                resource_type: rt.clone(),
                core,
                extensions,
                common: common.attributes.clone(),
            }))
        };
        let user = build(ResourceKind::User)?;
        let group = build(ResourceKind::Group)?;
        Ok(Self {
            schemas: schema_defs,
            resource_types: rt_defs,
            user,
            group,
        })
    }

    pub fn resource(&self, kind: ResourceKind) -> &Arc<ResourceSchema> {
        match kind {
            ResourceKind::User => &self.user,
            ResourceKind::Group => &self.group,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_registry_loads_and_resolves() {
        let reg = SchemaRegistry::builtin();
        let user = &reg.user;
        assert!(user.resolve(None, "USERNAME").is_some());
        let emp = user
            .resolve(Some(ENTERPRISE_USER_SCHEMA), "employeeNumber")
            .unwrap();
        assert!(emp.in_extension);
        let roles = user
            .resolve(Some(TABLEAU_USER_SCHEMA), "siteRoles")
            .unwrap();
        assert!(roles.def.multi_valued);
        assert!(!user.resolve(None, "userName").unwrap().def.case_exact);
        assert!(user.resolve(None, "externalId").unwrap().def.case_exact);
        let (urn, rest) = user
            .split_urn("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager")
            .unwrap();
        assert_eq!(urn, ENTERPRISE_USER_SCHEMA);
        assert_eq!(rest, "manager");
        assert!(reg.group.resolve(None, "members").unwrap().def.multi_valued);
    }

    #[test]
    fn split_urn_takes_the_longest_urn() {
        let user = &SchemaRegistry::builtin().user;
        assert_eq!(
            user.split_urn(&format!("{TABLEAU_USER_SCHEMA}:siteRoles")),
            Some((TABLEAU_USER_SCHEMA, "siteRoles"))
        );
        assert_eq!(
            user.split_urn(&format!("{TABLEAU_NATIVE_SCHEMA}:entitlements")),
            Some((TABLEAU_NATIVE_SCHEMA, "entitlements"))
        );
        let site_roles = |urn| {
            user.resolve(Some(urn), "siteRoles")
                .map(|a| a.def.add_replaces_values())
        };
        assert_eq!(site_roles(TABLEAU_USER_SCHEMA), Some(true));
        assert_eq!(site_roles(TABLEAU_NATIVE_SCHEMA), Some(true));
        let core_entitlements = user.resolve(None, "entitlements").map(|a| a.def);
        assert!(core_entitlements.is_some_and(|d| !d.add_replaces_values()));
    }

    #[test]
    fn split_urn_survives_multi_byte_input() {
        let user = &SchemaRegistry::builtin().user;
        assert!(
            user.split_urn("urn:ietf:params:scim:schemas:core:2.0:Useé:x")
                .is_none()
        );
        assert!(user.split_urn("é").is_none());
        assert_eq!(
            user.split_urn("urn:ietf:params:scim:schemas:core:2.0:User:é"),
            Some((USER_SCHEMA, "é"))
        );
    }
}
