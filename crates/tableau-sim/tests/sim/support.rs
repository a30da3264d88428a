//! Shared helpers for the simulator's integration tests: start a sim on port 0, sign in, and
//! speak Tableau's JSON format.
#![allow(dead_code)]

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tableau_sim::{RunningSim, SimConfig};

pub const SITE: &str = "acme";

pub async fn start(config: SimConfig) -> RunningSim {
    tableau_sim::spawn(config.with_site(SITE))
        .await
        .expect("simulator starts")
}

pub async fn start_default() -> RunningSim {
    start(SimConfig::default()).await
}

/// A signed-in JSON client of one simulator.
pub struct Client {
    pub http: reqwest::Client,
    pub api: String,
    pub site_id: String,
    pub user_id: String,
    pub token: String,
}

/// reqwest is built without a TLS crypto provider of its own (the bridge's choice, shared in the
/// workspace); building a client needs one installed first, even for plain HTTP.
pub fn init_crypto() {
    // Err means a provider is already installed, which serves as well.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

pub fn http() -> reqwest::Client {
    init_crypto();
    reqwest::Client::builder().build().expect("client")
}

/// POSTs a JSON sign-in body; returns (status, body).
pub async fn sign_in_raw(api: &str, credentials: Value) -> (StatusCode, Value) {
    let response = http()
        .post(format!("{api}/auth/signin"))
        .header("Accept", "application/json")
        .json(&json!({ "credentials": credentials }))
        .send()
        .await
        .expect("sign-in request");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

pub fn pat_credentials() -> Value {
    json!({"personalAccessTokenName": "sim-pat", "personalAccessTokenSecret": "sim-pat-secret",
           "site": {"contentUrl": SITE}})
}

impl Client {
    pub async fn sign_in_at(api: String, credentials: Value) -> Client {
        let (status, body) = sign_in_raw(&api, credentials).await;
        assert_eq!(status, StatusCode::OK, "sign-in failed: {body}");
        let c = &body["credentials"];
        Client {
            http: http(),
            site_id: c["site"]["id"].as_str().expect("site id").to_owned(),
            user_id: c["user"]["id"].as_str().expect("user id").to_owned(),
            token: c["token"].as_str().expect("token").to_owned(),
            api,
        }
    }

    pub async fn pat(sim: &RunningSim) -> Client {
        Client::sign_in_at(sim.api_url(), pat_credentials()).await
    }

    pub async fn admin(sim: &RunningSim) -> Client {
        Client::sign_in_at(
            sim.api_url(),
            json!({"name": "admin", "password": "admin-password", "site": {"contentUrl": SITE}}),
        )
        .await
    }

    /// `path` is relative to `/api/{version}/sites/{site}/` unless it starts with `/`.
    pub fn url(&self, path: &str) -> String {
        match path.strip_prefix('/') {
            Some(abs) => format!("{}/{abs}", self.api),
            None => format!("{}/sites/{}/{path}", self.api, self.site_id),
        }
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .http
            .request(method, self.url(path))
            .header("Accept", "application/json")
            .header("X-Tableau-Auth", &self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request");
        let status = response.status();
        let text = response.text().await.expect("body");
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).expect("JSON body")
        };
        (status, value)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PUT, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::DELETE, path, None).await
    }

    /// Adds a user and returns its LUID.
    pub async fn add_user(&self, name: &str, role: &str) -> String {
        let (status, body) = self
            .post("users", json!({"user": {"name": name, "siteRole": role}}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["user"]["id"].as_str().expect("id").to_owned()
    }

    pub async fn create_group(&self, name: &str) -> String {
        let (status, body) = self.post("groups", json!({"group": {"name": name}})).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["group"]["id"].as_str().expect("id").to_owned()
    }

    /// Sends raw XML (no namespace, as tableauserverclient does) and returns status and text.
    pub async fn xml(&self, method: Method, path: &str, body: &str) -> (StatusCode, String) {
        let response = self
            .http
            .request(method, self.url(path))
            .header("X-Tableau-Auth", &self.token)
            .header("Content-Type", "text/xml")
            .body(body.to_owned())
            .send()
            .await
            .expect("request");
        (response.status(), response.text().await.expect("body"))
    }
}

/// The Tableau error code of an error body, e.g. "409000".
pub fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("<no error code>")
}

/// The `user` array of a `{"users":{"user":[…]}}` list (empty for `{}`).
pub fn items<'a>(body: &'a Value, plural: &str, singular: &str) -> Vec<&'a Value> {
    body[plural][singular]
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default()
}

/// A connected-app JWT signed with the default connected app's secret.
pub fn jwt(claims: Value, header_overrides: Value) -> String {
    use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("sim-secret-id".to_owned());
    header.typ = Some("JWT".to_owned());
    if let Some(kid) = header_overrides.get("kid") {
        header.kid = kid.as_str().map(str::to_owned);
    }
    if let Some(iss) = header_overrides.get("iss").and_then(Value::as_str) {
        header.extras.insert("iss", iss.to_owned());
    }
    let secret = header_overrides
        .get("secret")
        .and_then(Value::as_str)
        .unwrap_or("sim-secret-value");
    encode(
        &header,
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("jwt")
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Claims the default connected app accepts for `sub`.
pub fn claims(sub: &str) -> Value {
    json!({"iss": "sim-client", "aud": "tableau", "sub": sub, "exp": now() + 300,
           "jti": uuid::Uuid::new_v4().to_string(), "scp": ["tableau:users:*", "tableau:groups:*"]})
}

pub fn jwt_credentials(token: &str) -> Value {
    json!({"jwt": token, "site": {"contentUrl": SITE}})
}
