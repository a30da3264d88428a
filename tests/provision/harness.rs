//! `spawn_bridge`: the SCIM server wired to a fresh simulator (and its own SQLite store).
//! `spawn_bridge_on` starts another server on an existing simulator and store URL (two
//! replicas on one PostgreSQL database).

#![allow(dead_code)]

pub use crate::support::{drop_database, fresh_database};

use reqwest::{Client, Method, Response};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tableau_scim::app::Application;
use tableau_scim::config::Settings;
use tableau_scim::store::{DEFAULT_TENANT, Operation, Store};
use tableau_scim::tableau::{TableauAuth, TableauSettings};
use tableau_sim::{FaultRule, PersonalAccessToken, RunningSim, SimConfig, SimSnapshot};

pub const TOKEN: &str = "provision-test-token-0123456789";
pub const SCIM: &str = "application/scim+json";
pub const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub const TABLEAU_EXT: &str = "urn:ietf:params:scim:schemas:extension:tableau:3.0:User";
/// The URN Tableau's own SCIM service uses (no `:User` suffix).
pub const TABLEAU_NATIVE_EXT: &str = "urn:ietf:params:scim:schemas:extension:tableau:3.0";

/// The administrators the simulator is created with (default config + the bridge's PAT owners).
pub const ADMINS: [&str; 4] = ["admin", "sim-pat", "bridge", "bridge2"];

pub struct Bridge {
    pub base_url: String,
    pub client: Client,
    pub sim: Arc<RunningSim>,
    /// The server's store, opened separately on the same database (journal inspection).
    pub store: Arc<dyn Store>,
    /// The server's store URL (for `tableau-scim ops` run on it).
    pub store_url: String,
    /// What SIGHUP reloads in the server.
    pub reloader: tableau_scim::signals::Reloader,
    _dir: tempfile::TempDir,
}

pub async fn spawn_bridge() -> Bridge {
    spawn_bridge_with(SimConfig::default(), |_| {}).await
}

/// A fresh simulator (site `acme`, PAT `bridge`) with the bridge's PAT owner as administrator.
pub async fn spawn_sim(sim_config: SimConfig) -> Arc<RunningSim> {
    tableau_scim::init_crypto();
    let mut sim_config = sim_config.with_site("acme");
    sim_config.pats.push(PersonalAccessToken {
        name: "bridge".into(),
        secret: "bridge-secret".into(),
    });
    sim_config.pats.push(PersonalAccessToken {
        name: "bridge2".into(),
        secret: "bridge2-secret".into(),
    });
    Arc::new(
        tableau_sim::spawn(sim_config)
            .await
            .expect("simulator starts"),
    )
}

pub async fn spawn_bridge_with(
    sim_config: SimConfig,
    configure: impl FnOnce(&mut Settings),
) -> Bridge {
    let sim = spawn_sim(sim_config).await;
    spawn_bridge_on(sim, configure).await
}

/// A bridge on an existing simulator, signing in with the PAT `bridge` unless `configure`
/// changes `settings.tableau` (the simulator keeps one session per PAT, so two bridges on one
/// simulator should use two PATs).
pub async fn spawn_bridge_on(
    sim: Arc<RunningSim>,
    configure: impl FnOnce(&mut Settings),
) -> Bridge {
    tableau_scim::init_crypto();
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
    let store_url = settings.store_url();
    let store = tableau_scim::store::connect(&store_url)
        .await
        .expect("store opens");
    let app = Application::build_with_store(settings, store.clone()).expect("app builds");
    let base_url = app.base_url();
    let reloader = app.reloader();
    tokio::spawn(app.run_until_stopped());
    Bridge {
        base_url,
        client: Client::new(),
        sim,
        store,
        store_url,
        reloader,
        _dir: dir,
    }
}

impl Bridge {
    pub fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> reqwest::RequestBuilder {
        let mut r = self
            .client
            .request(method, format!("{}{}", self.base_url, path))
            .bearer_auth(TOKEN)
            .timeout(Duration::from_secs(60));
        if let Some(b) = body {
            r = r.header("Content-Type", SCIM).body(b.to_string());
        }
        r
    }

    pub async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Response {
        self.request(method, path, body.as_ref())
            .send()
            .await
            .expect("request sent")
    }

    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        json_of(self.send(method, path, body).await).await
    }

    /// POST with an `Idempotency-Key` header.
    pub async fn post_with_key(&self, path: &str, body: &Value, key: &str) -> (u16, Value) {
        json_of(
            self.request(Method::POST, path, Some(body))
                .header("Idempotency-Key", key)
                .send()
                .await
                .expect("request sent"),
        )
        .await
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(Method::POST, path, Some(body)).await
    }
    pub async fn put(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(Method::PUT, path, Some(body)).await
    }
    pub async fn patch(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(Method::PATCH, path, Some(body)).await
    }
    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.call(Method::GET, path, None).await
    }
    pub async fn delete(&self, path: &str) -> u16 {
        self.call(Method::DELETE, path, None).await.0
    }

    /// POST /Users with a minimal body; the new id.
    pub async fn create_user(&self, user_name: &str) -> String {
        let (s, b) = self
            .post(
                "/Users",
                serde_json::json!({"schemas": [USER], "userName": user_name}),
            )
            .await;
        assert_eq!(s, 201, "{b}");
        b["id"].as_str().unwrap().to_string()
    }

    /// POST /Groups with these member ids; the new id.
    pub async fn create_group(&self, name: &str, members: &[String]) -> String {
        let members: Vec<Value> = members
            .iter()
            .map(|m| serde_json::json!({"value": m}))
            .collect();
        let (s, b) = self
            .post(
                "/Groups",
                serde_json::json!({"schemas": [GROUP], "displayName": name, "members": members}),
            )
            .await;
        assert_eq!(s, 201, "{b}");
        b["id"].as_str().unwrap().to_string()
    }

    pub fn snapshot(&self) -> SimSnapshot {
        self.sim.state().snapshot()
    }

    /// The simulated Tableau user of this name (case-insensitive).
    pub fn tableau_user(&self, name: &str) -> Option<tableau_sim::User> {
        self.snapshot()
            .users
            .into_iter()
            .find(|u| u.name.eq_ignore_ascii_case(name))
    }

    /// The site role of the simulated Tableau user of this name.
    pub fn role(&self, name: &str) -> String {
        self.tableau_user(name)
            .unwrap_or_else(|| panic!("{name} is not in Tableau"))
            .site_role
            .as_str()
            .to_string()
    }

    /// Names of the users on the site, except the administrators the harness creates.
    pub fn tableau_user_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .snapshot()
            .users
            .into_iter()
            .map(|u| u.name)
            .filter(|n| !ADMINS.contains(&n.as_str()))
            .collect();
        names.sort();
        names
    }

    /// Names of the groups on the site, except "All Users".
    pub fn tableau_group_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .snapshot()
            .groups
            .into_iter()
            .filter(|g| !g.group.built_in)
            .map(|g| g.group.name)
            .collect();
        names.sort();
        names
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

    /// Journaled operations, newest first (of one resource, or all).
    pub async fn operations(&self, resource_id: Option<&str>) -> Vec<Operation> {
        self.store
            .list_operations(DEFAULT_TENANT, resource_id, 1000)
            .await
            .expect("journal readable")
    }

    /// Start counting every Tableau REST call (a 0 ms latency rule on every path counts as
    /// one "delay" per matching request); `tableau_calls` reads the counter.
    pub fn count_tableau_calls(&self) {
        self.sim
            .state()
            .add_fault(FaultRule::parse("/api/**=latency:0ms").expect("rule parses"));
    }

    pub fn tableau_calls(&self) -> u64 {
        self.snapshot().injected_faults.delays
    }

    /// A call to the simulator's REST API as a Tableau admin would make it by hand (PAT
    /// `sim-pat`, JSON, the site's LUID filled in for `{site}`): changes made outside the
    /// bridge, such as a group's minimum site role.
    pub async fn tableau_admin(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let api = self.sim.api_url();
        let sign_in = serde_json::json!({"credentials": {"personalAccessTokenName": "sim-pat",
            "personalAccessTokenSecret": "sim-pat-secret",
            "site": {"contentUrl": self.sim.site_content_url()}}});
        let (status, signed) = json_of(
            self.client
                .post(format!("{api}/auth/signin"))
                .header("Accept", "application/json")
                .header("Content-Type", "application/json")
                .body(sign_in.to_string())
                .send()
                .await
                .expect("sign-in answers"),
        )
        .await;
        assert_eq!(status, 200, "{signed}");
        let token = signed["credentials"]["token"].as_str().expect("token");
        let path = path.replace("{site}", self.sim.site_id());
        let mut request = self
            .client
            .request(method, format!("{api}/{path}"))
            .header("X-Tableau-Auth", token)
            .header("Accept", "application/json");
        if let Some(b) = body {
            request = request
                .header("Content-Type", "application/json")
                .body(b.to_string());
        }
        let (status, answer) = json_of(request.send().await.expect("answers")).await;
        assert!((200..300).contains(&status), "{path}: {status} {answer}");
        answer
    }
}

/// Make a bridge sign in with the simulator's second PAT, `bridge2`.
pub fn use_second_pat(settings: &mut Settings) {
    let t = settings.tableau.as_mut().expect("tableau settings");
    t.auth = TableauAuth::Pat {
        name: "bridge2".into(),
        secret: "bridge2-secret".into(),
    };
}

pub async fn json_of(resp: Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    (
        status,
        if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
        },
    )
}

/// `value` percent-encoded for a query string.
pub fn urlencode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `/Users?filter=userName eq "name"` finds this many users.
pub async fn count_by_user_name(b: &Bridge, name: &str) -> u64 {
    let (s, body) = b
        .get(&format!(
            "/Users?filter={}",
            urlencode(&format!("userName eq \"{name}\""))
        ))
        .await;
    assert_eq!(s, 200, "{body}");
    body["totalResults"].as_u64().unwrap()
}

pub fn patch_ops(ops: Value) -> Value {
    serde_json::json!({"schemas": [PATCH_OP], "Operations": ops})
}

/// Poll (bounded) until `cond` holds.
pub async fn eventually<F, Fut>(what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..200 {
        if cond().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out waiting for: {what}");
}

/// Runs `test` against a bridge on SQLite (its default) and, when
/// `TABLEAU_SCIM_TEST_POSTGRES` names a server, on a fresh PostgreSQL database of its own
/// (dropped afterwards, also when the test fails). `test` gets the `Settings` change that
/// selects the backend.
pub async fn on_both_backends<F, Fut>(test: F)
where
    F: Fn(Option<String>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    test(None).await;
    let Some(base) = std::env::var("TABLEAU_SCIM_TEST_POSTGRES")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        eprintln!("PostgreSQL part skipped: set TABLEAU_SCIM_TEST_POSTGRES to a PostgreSQL URL");
        return;
    };
    let (url, db) = fresh_database(&base).await;
    let outcome = tokio::spawn(test(Some(url))).await;
    drop_database(&base, &db).await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}
