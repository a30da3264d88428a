//! docs/embedding.md, the just-in-time sign-up: the page's curl call is read from the page and
//! sent as written (address and token substituted) to the bridge in front of the Tableau
//! simulator; the response carries what the page promises, and the documented retry with the
//! same `Idempotency-Key` gets the same answer without a second Tableau user.

use crate::helpers::{SCIM, TOKEN, TestApp, json_of, spawn_app_with};
use serde_json::Value;
use tableau_scim::tableau::{TableauAuth, TableauSettings};
use tableau_sim::{PersonalAccessToken, SimConfig};

const PAGE: &str = include_str!("../../docs/embedding.md");
const DOC_BASE: &str = "https://scim.example.com/scim/v2";
const EXT: &str = "urn:ietf:params:scim:schemas:extension:tableau:3.0:User";

/// The documented request: URL, headers and body of the page's first `curl` block.
struct DocumentedCall {
    url: String,
    headers: Vec<(String, String)>,
    body: Value,
}

fn documented_call() -> DocumentedCall {
    let start = PAGE
        .find("```sh\ncurl")
        .expect("docs/embedding.md has a ```sh block starting with curl");
    let block = &PAGE[start + "```sh\n".len()..];
    let block = &block[..block.find("\n```").expect("the curl block is closed")];
    let url = block
        .split('"')
        .find(|s| s.starts_with("https://"))
        .expect("the curl call names its URL")
        .to_string();
    let headers = block
        .lines()
        .filter_map(|l| l.trim().strip_prefix("-H \""))
        .map(|h| {
            let h = h.trim_end_matches(['\\', ' ']).trim_end_matches('"');
            let (name, value) = h.split_once(": ").expect("header is NAME: VALUE");
            (name.to_string(), value.to_string())
        })
        .collect();
    let data = &block[block.find("-d '").expect("the curl call has a -d body") + 4..];
    let data = &data[..data.rfind('\'').expect("the body is quoted")];
    let body = serde_json::from_str(data).expect("the documented body is JSON");
    DocumentedCall { url, headers, body }
}

/// The bridge (the `api` test server) provisioning into a fresh simulator.
async fn spawn_bridge_and_sim() -> (tableau_sim::RunningSim, TestApp) {
    tableau_scim::init_crypto();
    let mut sim_config = SimConfig::default().with_site("acme");
    sim_config.pats.push(PersonalAccessToken {
        name: "bridge".into(),
        secret: "bridge-secret".into(),
    });
    let sim = tableau_sim::spawn(sim_config)
        .await
        .expect("simulator starts");
    let (sim_url, site) = (sim.url(), sim.site_content_url().to_string());
    let app = spawn_app_with(move |s| {
        let mut t = TableauSettings::new(
            sim_url,
            site,
            TableauAuth::Pat {
                name: "bridge".into(),
                secret: "bridge-secret".into(),
            },
        );
        t.requests_per_second = 10_000;
        s.tableau = Some(t);
    })
    .await;

    (sim, app)
}

#[tokio::test]
async fn the_documented_signup_call_returns_the_tableau_luid_and_replays_with_its_key() {
    let call = documented_call();
    assert!(call.url.starts_with(DOC_BASE), "{}", call.url);
    let key = call
        .headers
        .iter()
        .find(|(n, _)| n == "Idempotency-Key")
        .map(|(_, v)| v.clone())
        .expect("the documented call carries an Idempotency-Key");

    let (sim, app) = spawn_bridge_and_sim().await;

    let url = call.url.replacen(DOC_BASE, &app.base_url, 1);
    let send = || {
        let mut r = app.client.post(&url);
        for (name, value) in &call.headers {
            r = r.header(name, value.replace("$SCIM_TOKEN", TOKEN));
        }
        r.body(call.body.to_string()).send()
    };

    let resp = send().await.expect("request sent");
    let location = resp.headers().get("location").cloned();
    let etag = resp.headers().get("etag").cloned();
    let (status, user) = json_of(resp).await;
    assert_eq!(status, 201, "{user}");

    // What the page's response table promises.
    let id = user["id"].as_str().expect("id");
    let user_name = call.body["userName"].as_str().expect("documented userName");
    assert_eq!(user["userName"], user_name);
    assert_eq!(user["externalId"], call.body["externalId"]);
    assert!(
        user["schemas"].as_array().unwrap().iter().any(|s| s == EXT),
        "{user}"
    );
    let luid = user[EXT]["luid"].as_str().expect("the LUID is returned");
    assert_eq!(user[EXT]["siteRoles"], call.body[EXT]["siteRoles"]);
    let tableau = sim
        .state()
        .snapshot()
        .users
        .into_iter()
        .find(|u| u.name == user_name)
        .expect("the user is in Tableau under the userName (the JWT's sub)");
    assert_eq!(luid, tableau.id, "the LUID is the Tableau user's id");
    assert_eq!(tableau.site_role.as_str(), "Viewer");
    assert_eq!(tableau.email.as_deref(), Some(user_name));
    assert_eq!(tableau.full_name.as_deref(), Some("Ada Lovelace"));
    let meta_location = user["meta"]["location"].as_str().expect("meta.location");
    assert_eq!(meta_location, format!("{}/Users/{id}", app.base_url));
    assert_eq!(
        location.as_ref().and_then(|v| v.to_str().ok()),
        Some(meta_location)
    );
    assert_eq!(
        etag.as_ref().and_then(|v| v.to_str().ok()),
        user["meta"]["version"].as_str()
    );

    // The documented retry: the identical request with its key gets the first answer again.
    let (status, again) = json_of(send().await.expect("retry sent")).await;
    assert_eq!(status, 201, "{again}");
    assert_eq!(again["id"], user["id"]);
    assert_eq!(again[EXT]["luid"], luid);
    let in_tableau = sim
        .state()
        .snapshot()
        .users
        .iter()
        .filter(|u| u.name.eq_ignore_ascii_case(user_name))
        .count();
    assert_eq!(in_tableau, 1, "the retry made no second Tableau user");

    // The same key with another body is refused (422), as the page says.
    let mut other = call.body.clone();
    other["userName"] = Value::from("someone.else@example.com");
    let resp = app
        .client
        .post(&url)
        .bearer_auth(TOKEN)
        .header("Content-Type", SCIM)
        .header("Idempotency-Key", &key)
        .body(other.to_string())
        .send()
        .await
        .expect("request sent");
    assert_eq!(resp.status().as_u16(), 422);

    // Without a key, a second identical create is an ordinary duplicate.
    let resp = app
        .client
        .post(&url)
        .bearer_auth(TOKEN)
        .header("Content-Type", SCIM)
        .body(call.body.to_string())
        .send()
        .await
        .expect("request sent");
    let (status, err) = json_of(resp).await;
    assert_eq!(status, 409, "{err}");
    assert_eq!(err["scimType"], "uniqueness");
}

/// The page's first ```python block, with the page's address.
fn documented_python() -> &'static str {
    let start = PAGE
        .find("```python\n")
        .expect("docs/embedding.md has a ```python block");
    let block = &PAGE[start + "```python\n".len()..];
    &block[..block.find("\n```").expect("the python block is closed")]
}

/// The Python example runs as written (standard library only) against the bridge, with the
/// page's address replaced by the test server's: it returns the SCIM id and the LUID of the
/// Tableau user it created, and a second call (same key) returns the same pair.
#[tokio::test]
async fn the_documented_python_example_returns_the_id_and_the_luid() {
    let code = documented_python();
    assert!(
        code.contains(DOC_BASE),
        "the example names the page's address"
    );
    let (sim, app) = spawn_bridge_and_sim().await;
    let script = format!(
        "{}\n\nimport sys\nfirst = provision('grace.hopper@example.com', 'Grace', 'Hopper', 'app-user-42')\n\
         again = provision('grace.hopper@example.com', 'Grace', 'Hopper', 'app-user-42')\n\
         print(json.dumps({{'first': first, 'again': again}}))\n",
        code.replace(DOC_BASE, &app.base_url)
    );
    // On a blocking thread: the server answering the script runs on this test's runtime.
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("python3")
            .arg("-c")
            .arg(&script)
            .env("SCIM_TOKEN", TOKEN)
            .output()
    })
    .await
    .expect("the blocking task ends")
    .expect("python3 runs (the docs/embedding.md example is tested with it)");
    assert!(
        output.status.success(),
        "the Python example failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let result: Value = serde_json::from_slice(&output.stdout).expect("the script prints JSON");
    assert_eq!(result["first"], result["again"], "{result}");
    let luid = result["first"][1].as_str().expect("a LUID");
    let tableau = sim
        .state()
        .snapshot()
        .users
        .into_iter()
        .find(|u| u.name == "grace.hopper@example.com")
        .expect("the user is in Tableau");
    assert_eq!(luid, tableau.id);
    let id = result["first"][0].as_str().expect("a SCIM id");
    let (status, user) = app.get(&format!("/Users/{id}")).await;
    assert_eq!(status, 200, "{user}");
    assert_eq!(user["externalId"], "app-user-42");
}
