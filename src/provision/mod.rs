//! The write path, and the reads handlers need. `service` is what the HTTP layer calls, one
//! function per SCIM operation: it locks, reads, checks preconditions and retries; `planner`
//! turns the new desired state of one resource (computed by the pure `scim` layer) into a
//! planned change — Tableau steps (`plan`, `rules`) and the local commit (`intent`); the
//! `engine` journals it, runs its steps (`step_runner`) and commits it together with the
//! operation's completion; `idempotency` says which requests are the same request.

pub mod compensation;
pub mod demotion;
pub mod dry_run;
pub mod engine;
pub mod errors;
pub mod exchanges;
pub mod guard;
pub mod health;
pub mod held;
pub mod idempotency;
pub mod intent;
pub mod journaled;
pub mod locks;
pub mod luid;
pub mod mapping;
pub mod plan;
pub mod planner;
pub mod query;
pub mod rename;
pub mod repair;
pub mod retention;
pub mod role_explain;
pub mod rules;
pub mod service;
pub mod site_role;
pub mod step_runner;

pub use engine::{Answer, Engine, JournalSettings, PlannedChange};
pub use idempotency::RequestMeta;
pub use locks::ResourceLocks;
pub use planner::Membership;
pub use query::{ListPage, ListRequest};
pub use service::{Precondition, Service};
