//! The place of held operations (the mass-removal guard holds a large removal until an admin
//! releases or discards it). The guard lands separately: until then this section says so, and
//! its release / discard actions belong here (POSTs with the CSRF token, like `actions.rs`).

use maud::{Markup, html};

/// The Overview's and Operations page's section for held operations.
pub fn section() -> Markup {
    html! {
        section.held #held {
            h2 { "Held operations" }
            p.hint { "Operations held by the mass-removal guard appear here, to release or discard. This build has no guard: nothing is ever held." }
        }
    }
}
