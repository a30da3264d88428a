//! tableau-scim: a SCIM 2.0 service provider that provisions Tableau users and groups.

pub mod scim;
pub mod sim;
pub mod store;
