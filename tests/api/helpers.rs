//! `spawn_app`: a real server on port 0 with a fresh SQLite store (or PostgreSQL when
//! `TABLEAU_SCIM_TEST_POSTGRES` is set and the test asks for it), and a client that knows the
//! token.

use reqwest::{Client, Method, RequestBuilder, Response};
use serde_json::{Value, json};
use tableau_scim::app::Application;
use tableau_scim::config::Settings;

pub const TOKEN: &str = "test-token-0123456789abcdef";
pub const SCIM: &str = "application/scim+json";

pub struct TestApp {
    pub base_url: String,
    pub client: Client,
    _dir: tempfile::TempDir,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut settings = Settings {
        listen: "127.0.0.1:0".into(),
        data_dir: dir.path().to_path_buf(),
        ..Default::default()
    };
    settings.auth.tokens = vec![TOKEN.into()];
    configure(&mut settings);
    let app = Application::build(settings).await.expect("app builds");
    let base_url = app.base_url();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        base_url,
        client: {
            tableau_scim::init_crypto();
            Client::new()
        },
        _dir: dir,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }

    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, self.url(path))
            .bearer_auth(TOKEN)
    }

    pub async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Response {
        let mut r = self.request(method, path);
        if let Some(b) = body {
            r = r.header("Content-Type", SCIM).body(b.to_string());
        }
        r.send().await.expect("request sent")
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        json_of(self.send(Method::GET, path, None).await).await
    }
    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        json_of(self.send(Method::POST, path, Some(body)).await).await
    }
    pub async fn put(&self, path: &str, body: Value) -> (u16, Value) {
        json_of(self.send(Method::PUT, path, Some(body)).await).await
    }
    pub async fn patch(&self, path: &str, body: Value) -> (u16, Value) {
        json_of(self.send(Method::PATCH, path, Some(body)).await).await
    }
    pub async fn delete(&self, path: &str) -> (u16, Value) {
        json_of(self.send(Method::DELETE, path, None).await).await
    }

    /// Create a user and return its id.
    pub async fn create_user(&self, user_name: &str) -> String {
        let (status, body) = self
            .post(
                "/Users",
                json!({"schemas": [USER], "userName": user_name, "active": true}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["id"].as_str().expect("id").to_string()
    }

    pub async fn create_group(&self, name: &str, members: &[&str]) -> String {
        let members: Vec<Value> = members.iter().map(|m| json!({"value": m})).collect();
        let (status, body) = self
            .post(
                "/Groups",
                json!({"schemas": [GROUP], "displayName": name, "members": members}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["id"].as_str().expect("id").to_string()
    }
}

pub const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
pub const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// Status and JSON body (Null for an empty body). Every response with a body must be
/// `application/scim+json`.
pub async fn json_of(resp: Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let text = resp.text().await.expect("body");
    if text.is_empty() {
        return (status, Value::Null);
    }
    assert!(
        ct.starts_with(SCIM),
        "content-type {ct:?} for {status} {text}"
    );
    (status, serde_json::from_str(&text).expect("JSON body"))
}

/// Assert an RFC 7644 error body.
pub fn assert_error(status: u16, body: &Value, want_status: u16, scim_type: Option<&str>) {
    assert_eq!(status, want_status, "{body}");
    assert_eq!(body["schemas"], json!([ERROR]), "{body}");
    assert_eq!(body["status"], json!(want_status.to_string()), "{body}");
    match scim_type {
        Some(t) => assert_eq!(body["scimType"], json!(t), "{body}"),
        None => assert!(body.get("scimType").is_none(), "{body}"),
    }
    assert!(
        body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{body}"
    );
}
