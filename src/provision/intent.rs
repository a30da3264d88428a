//! What an operation will commit locally once its Tableau steps are done, kept in the journal
//! as JSON so that a restarted process can finish the operation exactly as planned.

use crate::model::ResourceKind;
use crate::store::{MemberChanges, ResourceCommit};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Intent {
    /// The HTTP status answered on success (201, 200 or 204).
    pub status: u16,
    pub commit: CommitIntent,
    /// Set when the mass-removal guard holds the operation (`guard::Held`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held: Option<super::guard::Held>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "lowercase")]
pub enum CommitIntent {
    Create {
        kind: ResourceKind,
        id: String,
        doc: Map<String, Value>,
        members: Vec<(String, ResourceKind)>,
        #[serde(default)]
        tableau_luid: Option<String>,
    },
    Update {
        kind: ResourceKind,
        id: String,
        revision: i64,
        doc: Map<String, Value>,
        add: Vec<(String, ResourceKind)>,
        remove: Vec<String>,
        #[serde(default)]
        tableau_luid: Option<String>,
    },
    Delete {
        kind: ResourceKind,
        id: String,
    },
    /// A reconcile repair (`src/reconcile/`): Tableau is brought back to the stored state,
    /// which does not change; the engine only records the LUID the steps linked or created.
    /// `revision` is the resource's revision the repair was computed from (`None` for a
    /// Tableau user no resource manages, whose `id` is its LUID): a resource written since
    /// makes the repair stale, refused before any Tableau call.
    Repair {
        kind: ResourceKind,
        id: String,
        revision: Option<i64>,
    },
}

impl CommitIntent {
    pub fn resource_id(&self) -> &str {
        match self {
            CommitIntent::Create { id, .. }
            | CommitIntent::Update { id, .. }
            | CommitIntent::Delete { id, .. }
            | CommitIntent::Repair { id, .. } => id,
        }
    }

    pub fn kind(&self) -> ResourceKind {
        match self {
            CommitIntent::Create { kind, .. }
            | CommitIntent::Update { kind, .. }
            | CommitIntent::Delete { kind, .. }
            | CommitIntent::Repair { kind, .. } => *kind,
        }
    }

    /// The store commit, with the Tableau LUID the steps produced (or the known one).
    pub fn to_commit(&self, luid: Option<String>) -> ResourceCommit {
        match self.clone() {
            CommitIntent::Create {
                kind,
                id,
                doc,
                members,
                tableau_luid,
            } => ResourceCommit::Create {
                kind,
                id,
                doc,
                members,
                tableau_luid: luid.or(tableau_luid),
            },
            CommitIntent::Update {
                kind,
                id,
                revision,
                doc,
                add,
                remove,
                tableau_luid,
            } => ResourceCommit::Update {
                kind,
                id,
                revision,
                doc,
                members: MemberChanges { add, remove },
                tableau_luid: luid.or(tableau_luid),
            },
            CommitIntent::Delete { kind, id } => ResourceCommit::Delete { kind, id },
            // The LUID is set by the engine (`Engine::link_repaired`): the document is unchanged.
            CommitIntent::Repair { .. } => ResourceCommit::Nothing,
        }
    }
}
