//! `tableau-scim ops held | release | discard`: the operations the mass-removal guard held
//! (docs/operations.md, "Mass-removal guard"), listed, carried out or dropped.

use crate::provision::guard::Held;
use crate::provision::held::HeldError;
use crate::provision::plan::Step;
use crate::provision::{Engine, JournalSettings};
use crate::store::{DEFAULT_TENANT, Operation, Store};
use std::fmt::Write;
use std::sync::Arc;

/// How many held operations `--all` acts on at most, and `held` lists by default.
pub const ALL_LIMIT: i64 = 10_000;

/// One held operation, as `ops held` lists it.
pub fn describe_held(op: &Operation) -> String {
    let held: Held = op
        .intent
        .get("held")
        .and_then(|h| serde_json::from_value(h.clone()).ok())
        .unwrap_or_default();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}  {}  {} {}  {} {}  removals {}",
        op.id,
        op.created,
        op.method,
        op.path,
        op.resource_kind.as_str(),
        held.name.as_deref().unwrap_or("-"),
        op.removals,
    );
    for s in &op.steps {
        let what = serde_json::from_value::<Step>(s.description.clone())
            .map(|step| summary(&step))
            .unwrap_or_else(|_| s.kind.clone());
        let _ = writeln!(out, "  {:>2}. {what}", s.idx + 1);
    }
    out
}

/// A held step in a few words (ids, not names: names of deleted users are gone).
fn summary(step: &Step) -> String {
    match step {
        Step::UpdateUser {
            user_id,
            site_role: Some(role),
            ..
        } => format!("UpdateUser {user_id}: siteRole → {}", role.as_str()),
        Step::UpdateUser { user_id, .. } => format!("UpdateUser {user_id}"),
        Step::RemoveUser { user_id, .. } => format!("RemoveUser {user_id}"),
        Step::RemoveUnmanagedUser { name, .. } => format!("RemoveUser {name} (unmanaged)"),
        Step::RemoveGroupMembers { group_id, user_ids } => format!(
            "RemoveGroupMembers {group_id}: {} member(s): {}",
            user_ids.len(),
            user_ids.join(", ")
        ),
        Step::AddGroupMembers { group_id, user_ids } => {
            format!("AddGroupMembers {group_id}: {} member(s)", user_ids.len())
        }
        other => format!("{} {}", other.kind(), other.resource_id()),
    }
}

/// `ops held`.
pub async fn print_held(store: &dyn Store, limit: i64) -> anyhow::Result<()> {
    let ops = store.held_operations(DEFAULT_TENANT, limit).await?;
    if ops.is_empty() {
        println!("no held operations");
        return Ok(());
    }
    println!(
        "{} held operation(s), oldest first (release: tableau-scim ops release ID|--all; \
         drop: tableau-scim ops discard ID|--all)",
        ops.len()
    );
    for op in &ops {
        print!("{}", describe_held(op));
    }
    if ops.len() as i64 == limit {
        println!("(the oldest {limit}; --limit N shows more)");
    }
    Ok(())
}

/// Which held operations to act on: one id, or every held one.
pub enum Which {
    One(String),
    All,
}

async fn targets(store: &dyn Store, which: Which) -> anyhow::Result<Vec<String>> {
    Ok(match which {
        Which::One(id) => vec![id],
        Which::All => store
            .held_operations(DEFAULT_TENANT, ALL_LIMIT)
            .await?
            .into_iter()
            .map(|op| op.id)
            .collect(),
    })
}

/// `ops release`: each operation carried out through the engine, oldest first. With one id,
/// an id that is unknown or not held is an error (exit 1); so is a release Tableau refuses.
pub async fn release(
    store: Arc<dyn Store>,
    tableau: crate::tableau::TableauClient,
    settings: &crate::config::Settings,
    which: Which,
) -> anyhow::Result<()> {
    let ids = targets(store.as_ref(), which).await?;
    if ids.is_empty() {
        println!("no held operations");
        return Ok(());
    }
    // Released removals may be many; each waits for its outcome as long as a reconcile repair.
    let journal = JournalSettings {
        deadline_secs: settings.journal.deadline_secs.max(300),
        ..settings.journal.clone()
    };
    let engine = Engine::new(store, Some(tableau), settings.provision.clone(), journal);
    let (mut done, mut failed) = (0usize, Vec::new());
    for id in &ids {
        match engine.release(DEFAULT_TENANT, id).await {
            Ok(_) => {
                println!("released {id}: done");
                done += 1;
            }
            Err(HeldError::Scim(e)) => {
                println!("released {id}: {}", e.detail);
                failed.push(id.clone());
            }
            Err(e) if ids.len() == 1 => return Err(e.into()),
            Err(e) => {
                println!("not released {id}: {e}");
                failed.push(id.clone());
            }
        }
    }
    match failed.len() {
        0 => Ok(()),
        n => anyhow::bail!(
            "{n} of {} operation(s) not carried out ({done} done): see tableau-scim ops --resource ID",
            ids.len()
        ),
    }
}

/// `ops discard`: each operation dropped with `note` (the SCIM side stays as committed).
pub async fn discard(store: Arc<dyn Store>, which: Which, note: &str) -> anyhow::Result<()> {
    let ids = targets(store.as_ref(), which).await?;
    if ids.is_empty() {
        println!("no held operations");
        return Ok(());
    }
    // Discarding calls no Tableau: an engine without a client.
    let engine = Engine::new(store, None, Default::default(), JournalSettings::default());
    for id in &ids {
        engine.discard(DEFAULT_TENANT, id, note).await?;
        println!("discarded {id}");
    }
    println!(
        "the SCIM side of discarded operations stays as committed: `tableau-scim reconcile` \
         reports the difference left in Tableau"
    );
    Ok(())
}
