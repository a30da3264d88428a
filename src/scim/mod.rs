//! The SCIM protocol layer: schemas, resource documents, filters, PATCH, projection, errors.
//! Pure functions, no I/O: every IdP quirk is a unit test here.

pub mod document;
pub mod error;
pub mod filter;
pub mod input_rules;
pub mod limits;
pub mod list;
pub mod patch;
pub mod projection;
pub mod render;
pub mod render_text;
pub mod schema;

pub use error::{ErrorKind, ScimError, ScimResult};
