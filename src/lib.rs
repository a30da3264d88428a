//! tableau-scim: a SCIM 2.0 service provider that provisions Tableau users and groups.

pub mod app;
pub mod config;
pub mod http;
pub mod provision;
pub mod scim;
pub mod sim;
pub mod store;
