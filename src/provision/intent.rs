//! What an operation will commit locally once its Tableau steps are done, kept in the journal
//! as JSON so that a restarted process can finish the operation exactly as planned. The commit
//! itself is the store's [`ResourceCommit`], whose serde shape is that journal format.

use crate::store::ResourceCommit;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Intent {
    /// The HTTP status answered on success (201, 200 or 204).
    pub status: u16,
    pub commit: ResourceCommit,
    /// Set when the mass-removal guard holds the operation (`guard::Held`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held: Option<super::guard::Held>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ResourceKind;
    use crate::store::MemberChanges;
    use serde_json::{Value, json};

    fn doc(name: &str) -> serde_json::Map<String, Value> {
        let mut doc = serde_json::Map::new();
        doc.insert("userName".into(), json!(name));
        doc
    }

    /// Intents as journals written before `CommitIntent` became `ResourceCommit` hold them,
    /// written out literally: an operation running, held or planned across the upgrade must
    /// still be read.
    const JOURNALED: [&str; 4] = [
        r#"{"status":201,"commit":{"action":"create","kind":"User","id":"u1","doc":{"userName":"ann"},"members":[],"tableau_luid":null}}"#,
        r#"{"status":200,"commit":{"action":"update","kind":"Group","id":"g1","revision":3,"doc":{"userName":"eng"},"add":[["u1","User"],["g2","Group"]],"remove":["u2"]}}"#,
        r#"{"status":204,"commit":{"action":"delete","kind":"User","id":"u3"}}"#,
        r#"{"status":200,"commit":{"action":"repair","kind":"User","id":"u4","revision":null}}"#,
    ];

    fn expected() -> [ResourceCommit; 4] {
        [
            ResourceCommit::Create {
                kind: ResourceKind::User,
                id: "u1".into(),
                doc: doc("ann"),
                members: vec![],
                tableau_luid: None,
            },
            ResourceCommit::Update {
                kind: ResourceKind::Group,
                id: "g1".into(),
                revision: 3,
                doc: doc("eng"),
                members: MemberChanges {
                    add: vec![
                        ("u1".into(), ResourceKind::User),
                        ("g2".into(), ResourceKind::Group),
                    ],
                    remove: vec!["u2".into()],
                },
                tableau_luid: None,
            },
            ResourceCommit::Delete {
                kind: ResourceKind::User,
                id: "u3".into(),
            },
            ResourceCommit::Repair {
                kind: ResourceKind::User,
                id: "u4".into(),
                revision: None,
            },
        ]
    }

    #[test]
    fn journaled_intents_of_the_old_format_are_read() {
        for (text, commit) in JOURNALED.iter().zip(expected()) {
            let intent: Intent = serde_json::from_str(text).expect(text);
            assert_eq!(intent.commit, commit, "{text}");
            assert_eq!(intent.held, None);
        }
    }

    #[test]
    fn intents_round_trip_in_the_old_format() {
        for text in JOURNALED {
            let intent: Intent = serde_json::from_str(text).expect(text);
            let written = serde_json::to_value(&intent).expect("serializable");
            let mut old: Value = serde_json::from_str(text).expect(text);
            // The old format wrote an absent LUID as null, as this one does; the update sample
            // leaves it out, as a hand-written or older journal may.
            if old["commit"]["action"] == "update" {
                old["commit"]["tableau_luid"] = Value::Null;
            }
            assert_eq!(written, old, "{text}");
            assert_eq!(serde_json::from_value::<Intent>(written).ok(), Some(intent));
        }
    }

    #[test]
    fn an_update_keeps_its_members_beside_its_fields_and_its_luid() {
        let mut commit = expected()[1].clone().with_luid(Some("L-g1".into()));
        let written = serde_json::to_value(&commit).expect("serializable");
        assert_eq!(written["add"], json!([["u1", "User"], ["g2", "Group"]]));
        assert_eq!(written["remove"], json!(["u2"]));
        assert_eq!(written["tableau_luid"], json!("L-g1"));
        assert!(written.get("members").is_none(), "{written}");
        // No LUID from the steps keeps the planned one.
        commit = commit.with_luid(None);
        assert_eq!(
            serde_json::to_value(&commit).expect("serializable")["tableau_luid"],
            json!("L-g1")
        );
    }

    #[test]
    fn nothing_is_never_journaled() {
        let intent = Intent {
            status: 200,
            commit: ResourceCommit::Nothing,
            held: None,
        };
        assert!(serde_json::to_value(&intent).is_err());
        assert!(
            serde_json::from_str::<ResourceCommit>(r#"{"action":"nothing"}"#).is_err(),
            "not a journal action"
        );
    }
}
