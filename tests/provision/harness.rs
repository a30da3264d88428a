//! `spawn_bridge`: the SCIM server wired to a fresh simulator (and its own SQLite store).

use reqwest::{Client, Method, Response};
use serde_json::Value;
use std::sync::Arc;
use tableau_scim::app::Application;
use tableau_scim::config::Settings;
use tableau_scim::sim::{self, PersonalAccessToken, RunningSim, SimConfig, SimSnapshot};
use tableau_scim::store::{self, Store};
use tableau_scim::tableau::{TableauAuth, TableauSettings};

pub const TOKEN: &str = "provision-test-token-0123456789";
pub const SCIM: &str = "application/scim+json";
pub const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub const TABLEAU_EXT: &str = "urn:ietf:params:scim:schemas:extension:tableau:3.0:User";

pub struct Bridge {
    pub base_url: String,
    pub client: Client,
    pub sim: RunningSim,
    /// The bridge's own store (its journal included), for checks behind the SCIM API.
    #[allow(dead_code)]
    pub store: Arc<dyn Store>,
    _dir: tempfile::TempDir,
}

pub async fn spawn_bridge() -> Bridge {
    spawn_bridge_with(SimConfig::default(), |_| {}).await
}

pub async fn spawn_bridge_with(
    sim_config: SimConfig,
    configure: impl FnOnce(&mut Settings),
) -> Bridge {
    tableau_scim::init_crypto();
    let mut sim_config = sim_config.with_site("acme");
    sim_config.pats.push(PersonalAccessToken {
        name: "bridge".into(),
        secret: "bridge-secret".into(),
    });
    let sim = sim::spawn(sim_config).await.expect("simulator starts");
    let dir = tempfile::tempdir().expect("temp dir");
    let mut settings = Settings {
        listen: "127.0.0.1:0".into(),
        data_dir: dir.path().to_path_buf(),
        ..Default::default()
    };
    settings.auth.tokens = vec![TOKEN.into()];
    let mut tableau = TableauSettings::new(
        sim.url(),
        sim.site_content_url(),
        TableauAuth::Pat {
            name: "bridge".into(),
            secret: "bridge-secret".into(),
        },
    );
    tableau.requests_per_second = 10_000;
    settings.tableau = Some(tableau);
    configure(&mut settings);
    let store = store::connect(&settings.store_url())
        .await
        .expect("store opens");
    let app = Application::build_with_store(settings, store.clone()).expect("app builds");
    let base_url = app.base_url();
    tokio::spawn(app.run_until_stopped());
    Bridge {
        base_url,
        client: Client::new(),
        sim,
        store,
        _dir: dir,
    }
}

impl Bridge {
    pub async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Response {
        let mut r = self
            .client
            .request(method, format!("{}{}", self.base_url, path))
            .bearer_auth(TOKEN);
        if let Some(b) = body {
            r = r.header("Content-Type", SCIM).body(b.to_string());
        }
        r.send().await.expect("request sent")
    }

    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let resp = self.send(method, path, body).await;
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        (
            status,
            if text.is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&text).expect("JSON")
            },
        )
    }

    pub fn snapshot(&self) -> SimSnapshot {
        self.sim.state().snapshot()
    }

    /// The simulated Tableau user of this name (case-insensitive).
    pub fn tableau_user(&self, name: &str) -> Option<tableau_scim::sim::User> {
        self.snapshot()
            .users
            .into_iter()
            .find(|u| u.name.eq_ignore_ascii_case(name))
    }

    /// Names of the members of the simulated Tableau group of this name.
    pub fn tableau_group_members(&self, group: &str) -> Option<Vec<String>> {
        let snap = self.snapshot();
        let g = snap
            .groups
            .iter()
            .find(|g| g.group.name.eq_ignore_ascii_case(group))?;
        let mut names: Vec<String> = g
            .member_ids
            .iter()
            .filter_map(|id| {
                snap.users
                    .iter()
                    .find(|u| &u.id == id)
                    .map(|u| u.name.clone())
            })
            .collect();
        names.sort();
        Some(names)
    }
}
