//! The Tableau REST API client (users, groups, and the owners of content) the provisioning engine drives.
//!
//! - JSON on the wire (`Accept`/`Content-Type: application/json`), parsed defensively
//!   ([`wire`]): numbers as strings, `{}` for empty lists, missing optional fields.
//! - One shared session per client (= per site), signed in lazily with a PAT, a password or a
//!   connected-app JWT; on 401002 it signs in again, once, however many requests noticed
//!   ([`session`]).
//! - API version from the settings, else from `serverInfo`, asked once.
//! - At most `max_concurrency` requests in flight and `requests_per_second` started
//!   ([`limits`]); 429, 5xx, timeouts and lost connections retried with exponential backoff and
//!   full jitter, honouring `Retry-After` ([`retry`]); every other error returned at once,
//!   typed ([`TableauCode`]).
//! - Each HTTP exchange can be recorded for the journal with [`record_calls`].
//! - Secrets and session tokens never appear in `Debug`, logs or call records.
//!
//! Retried requests are not always idempotent on Tableau's side: an Add User whose answer was
//! lost may have been applied, and its retry then answers 409000. The engine treats 409000 /
//! 409009 as "look it up and link" (DESIGN.md); membership calls treat 409011 and 404002 as
//! done themselves.

mod auth;
mod calls;
mod client;
mod content;
mod errors;
mod groups;
mod inspect;
mod limits;
mod paging;
mod retry;
mod session;
mod settings;
mod user_groups;
mod users;
mod wire;

pub use auth::{JWT_SCOPES, mint_jwt};
pub use calls::{CallRecord, CallRecorder, record_calls};
pub use client::TableauClient;
pub use content::{ContentKind, OwnedItem};
pub use errors::{TableauCode, TableauError};
pub use groups::TableauGroup;
pub use inspect::{ServerInfo, SiteAuthConfiguration, SiteDetails};
pub use paging::Progress;
pub use settings::{TableauAuth, TableauSettings};
pub use user_groups::UserGroup;
pub use users::{TableauUser, UserUpdate};
