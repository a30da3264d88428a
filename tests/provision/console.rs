//! The admin console against the real server and the simulator: off without an admin token,
//! its own credential (never the IdP's), the session cookie's attributes, CSRF and origin
//! checks on every POST, the security headers, escaping of attacker-controlled names, every
//! Tableau call shown with its (redacted) bodies, refused requests listed, keyset paging.

use crate::harness::{Bridge, TOKEN, spawn_bridge, spawn_bridge_with};
use reqwest::header::{CONTENT_SECURITY_POLICY, LOCATION, SET_COOKIE};
use reqwest::{Client, Response, redirect};
use serde_json::json;
use tableau_sim::SimConfig;

const ADMIN: &str = "console-admin-token-0123456789";
const EVIL: &str = "<script>alert(1)</script><img src=x onerror=alert(2)>";

fn with_console(settings: &mut tableau_scim::config::Settings) {
    settings.admin.tokens = vec![ADMIN.into()];
}

/// The server's root (`http://127.0.0.1:PORT`).
fn root(b: &Bridge) -> String {
    b.base_url.trim_end_matches("/scim/v2").to_owned()
}

const FORM: &str = "application/x-www-form-urlencoded";

fn encode(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

fn browser() -> Client {
    Client::builder()
        .redirect(redirect::Policy::none())
        .build()
        .expect("client")
}

async fn sign_in(b: &Bridge, token: &str) -> Response {
    browser()
        .post(format!("{}/admin/login", root(b)))
        .header("Origin", root(b))
        .header("Content-Type", FORM)
        .body(encode(&[("token", token)]))
        .send()
        .await
        .expect("sign-in sent")
}

/// Signs in; the `Cookie` header value of the session.
async fn session(b: &Bridge) -> String {
    let res = sign_in(b, ADMIN).await;
    assert_eq!(res.status(), 303);
    let cookie = res.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    cookie.split(';').next().unwrap().to_owned()
}

async fn page(b: &Bridge, cookie: &str, path: &str) -> (u16, String) {
    let res = browser()
        .get(format!("{}{path}", root(b)))
        .header("Cookie", cookie)
        .send()
        .await
        .expect("page");
    (res.status().as_u16(), res.text().await.unwrap_or_default())
}

/// The CSRF token of a page's forms.
fn csrf_of(html: &str) -> String {
    let at = html
        .find("name=\"csrf\" value=\"")
        .expect("a form with a CSRF token")
        + 19;
    html[at..at + 64].to_owned()
}

async fn post(
    b: &Bridge,
    cookie: &str,
    path: &str,
    form: &[(&str, &str)],
    origin: &str,
) -> Response {
    browser()
        .post(format!("{}{path}", root(b)))
        .header("Cookie", cookie)
        .header("Origin", origin)
        .header("Content-Type", FORM)
        .body(encode(form))
        .send()
        .await
        .expect("post")
}

#[tokio::test]
async fn the_console_is_off_without_an_admin_token() {
    let b = spawn_bridge().await;
    for path in ["/admin/", "/admin/login", "/admin/assets/console.js"] {
        let res = browser()
            .get(format!("{}{path}", root(&b)))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404, "{path}");
    }
}

#[tokio::test]
async fn an_admin_token_that_is_an_idp_token_stops_the_start_up() {
    let store = tableau_scim::store::connect("sqlite::memory:")
        .await
        .unwrap();
    let mut settings = tableau_scim::config::Settings {
        listen: "127.0.0.1:0".into(),
        ..Default::default()
    };
    settings.auth.tokens = vec![TOKEN.into()];
    settings.admin.tokens = vec![TOKEN.into()];
    let err = tableau_scim::app::Application::build_with_store(settings, store)
        .err()
        .expect("refused");
    assert!(
        err.to_string().contains("also an IdP bearer token"),
        "{err}"
    );
}

#[tokio::test]
async fn sign_in_cookie_headers_csrf_and_sign_out() {
    let b = spawn_bridge_with(SimConfig::default(), with_console).await;
    let r = root(&b);
    // Not signed in: to the form, with the security headers.
    let res = browser().get(format!("{r}/admin/")).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()[LOCATION], "/admin/login");
    let csp = res.headers()[CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    assert!(csp.contains("frame-ancestors 'none'") && csp.contains("form-action 'self'"));
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    // The IdP's token opens nothing: neither as a header nor in the form.
    let res = browser()
        .get(format!("{r}/admin/"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(sign_in(&b, TOKEN).await.status(), 401);
    assert_eq!(sign_in(&b, "wrong-token-0123456789").await.status(), 401);
    // A sign-in from another site's page is refused even with the right token.
    let res = browser()
        .post(format!("{r}/admin/login"))
        .header("Origin", "https://evil.example")
        .header("Content-Type", FORM)
        .body(encode(&[("token", ADMIN)]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    // The session cookie.
    let res = sign_in(&b, ADMIN).await;
    assert_eq!(res.status(), 303);
    let set = res.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/admin", "Max-Age=3600"] {
        assert!(set.contains(attribute), "{set} lacks {attribute}");
    }
    assert!(!set.contains("Secure"), "plain HTTP: {set}");
    let cookie = set.split(';').next().unwrap().to_owned();
    let (status, html) = page(&b, &cookie, "/admin/").await;
    assert_eq!(status, 200);
    assert!(html.contains("Operations, last 24 h"), "{html}");
    let csrf = csrf_of(&html);
    // POSTs without the CSRF token, with another session's, or from another origin: 403.
    let res = post(&b, &cookie, "/admin/logout", &[], &r).await;
    assert_eq!(res.status(), 403);
    let res = post(
        &b,
        &cookie,
        "/admin/reconcile",
        &[("csrf", &"0".repeat(64))],
        &r,
    )
    .await;
    assert_eq!(res.status(), 403);
    let res = post(
        &b,
        &cookie,
        "/admin/reconcile",
        &[("csrf", &csrf)],
        "http://evil.example",
    )
    .await;
    assert_eq!(res.status(), 403);
    // With both: the action runs.
    let res = post(&b, &cookie, "/admin/reconcile", &[("csrf", &csrf)], &r).await;
    assert_eq!(res.status(), 200);
    let report = res.text().await.unwrap();
    assert!(report.contains("reconcile-report"), "{report}");
    let (_, overview) = page(&b, &cookie, "/admin/").await;
    assert!(overview.contains("Last run"), "{overview}");
    // Sign-out ends the session and clears the cookie.
    let res = post(&b, &cookie, "/admin/logout", &[("csrf", &csrf)], &r).await;
    assert_eq!(res.status(), 303);
    assert!(
        res.headers()[SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    assert_eq!(page(&b, &cookie, "/admin/").await.0, 303);
}

#[tokio::test]
async fn sign_in_attempts_are_rate_limited() {
    let b = spawn_bridge_with(SimConfig::default(), with_console).await;
    for _ in 0..10 {
        assert_eq!(sign_in(&b, "wrong-token-0123456789").await.status(), 401);
    }
    assert_eq!(sign_in(&b, ADMIN).await.status(), 429);
}

#[tokio::test]
async fn operations_show_every_tableau_call_escaped_and_redacted_and_refusals() {
    let b = spawn_bridge_with(SimConfig::default(), with_console).await;
    let user = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "alice@acme.com",
        "displayName": EVIL,
        "name": {"formatted": EVIL},
        "password": "hunter2-secret",
    });
    let (status, created) = b.post("/Users", user).await;
    assert_eq!(status, 201, "{created}");
    let bad = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "", "password": "pw-secret-2"});
    assert_eq!(b.post("/Users", bad).await.0, 400);
    let cookie = session(&b).await;
    let (_, list) = page(&b, &cookie, "/admin/operations").await;
    assert!(list.contains("alice@acme.com"), "{list}");
    assert!(
        list.contains("data-state=\"refused\""),
        "the 400 is listed: {list}"
    );
    assert!(list.contains("userName"), "with its SCIM error: {list}");
    let at = list.find("/admin/operations/").unwrap();
    let id = &list[at + 18..at + 18 + 36];
    let (status, detail) = page(&b, &cookie, &format!("/admin/operations/{id}")).await;
    assert_eq!(status, 200);
    assert!(
        !detail.contains("<script>alert") && !detail.contains("<img src=x"),
        "{detail}"
    );
    assert!(detail.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(
        detail.contains("/auth/signin") && detail.contains("/users"),
        "{detail}"
    );
    assert!(detail.contains("Request") && detail.contains("Response"));
    assert!(
        detail.contains("&quot;siteRole&quot;"),
        "the Add User body: {detail}"
    );
    assert!(
        !detail.contains("hunter2") && !detail.contains("bridge-secret"),
        "{detail}"
    );
    assert!(
        detail.contains("&quot;password&quot;: &quot;[redacted]&quot;"),
        "the SCIM request journaled, its password redacted: {detail}"
    );
    // The user's page: the rule that gave the role, and its operations.
    let user_id = created["id"].as_str().unwrap();
    let (status, user) = page(&b, &cookie, &format!("/admin/users/{user_id}")).await;
    assert_eq!(status, 200);
    assert!(
        user.contains("default_site_role") && user.contains("Viewer"),
        "{user}"
    );
    assert!(!user.contains("<script>alert"));
    // The list filters by name, and by state.
    let (_, found) = page(&b, &cookie, "/admin/operations?q=ALICE").await;
    assert!(found.contains("alice@acme.com") && !found.contains("data-state=\"refused\""));
    let (_, refused) = page(&b, &cookie, "/admin/operations?state=refused").await;
    assert!(
        refused.contains("data-state=\"refused\"") && !refused.contains("data-state=\"succeeded\"")
    );
    // The live fragment is rows only.
    let (_, rows) = page(&b, &cookie, "/admin/operations?fragment=rows").await;
    assert!(rows.starts_with("<tr"), "{rows}");
}

#[tokio::test]
async fn operations_page_by_keyset() {
    let b = spawn_bridge_with(SimConfig::default(), with_console).await;
    for i in 0..52 {
        b.create_group(&format!("Group {i:02}"), &[]).await;
    }
    let cookie = session(&b).await;
    let (_, first) = page(&b, &cookie, "/admin/operations?kind=Group").await;
    assert_eq!(first.matches("<tr class=\"op\"").count(), 50);
    assert!(first.contains("Group 51") && !first.contains("Group 01<"));
    let at = first.find("class=\"next\" href=\"").expect("an Older link") + 19;
    let next = first[at..].split('"').next().unwrap().replace("&amp;", "&");
    let (_, second) = page(&b, &cookie, &next).await;
    assert_eq!(second.matches("<tr class=\"op\"").count(), 2, "{second}");
    assert!(second.contains("Group 00") && second.contains("Group 01"));
    assert!(!second.contains("class=\"next\""));
    assert!(
        !second.contains("data-live"),
        "only the first page updates itself"
    );
}

/// Held operations on the Overview, released and discarded from the console: the release
/// carries the removal out in Tableau, the discard leaves Tableau as it is, both need the CSRF
/// token, and a second action on the same operation says it is no longer held.
#[tokio::test]
async fn held_operations_are_released_and_discarded_from_the_console() {
    let b = spawn_bridge_with(SimConfig::default(), |s| {
        with_console(s);
        s.guard.max_removals = 0;
    })
    .await;
    let mut ids = Vec::new();
    for name in ["held-a@example.com", "held-b@example.com"] {
        let (s, u) = b
            .post(
                "/Users",
                json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name,
                    "urn:ietf:params:scim:schemas:extension:tableau:3.0:User":
                        {"siteRoles": [{"value": "Viewer"}]}}),
            )
            .await;
        assert_eq!(s, 201, "{u}");
        let id = u["id"].as_str().unwrap().to_owned();
        let (s, body) = b
            .patch(
                &format!("/Users/{id}"),
                json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "replace", "value": {"active": false}}]}),
            )
            .await;
        assert_eq!(s, 200, "{body}");
        ids.push(id);
    }
    assert_eq!(
        b.role("held-a@example.com"),
        "Viewer",
        "held, not carried out"
    );
    let held: Vec<String> = {
        let mut ops = Vec::new();
        for id in &ids {
            let op = b.operations(Some(id)).await.remove(0);
            assert_eq!(op.state.as_str(), "held");
            ops.push(op.id);
        }
        ops
    };

    let cookie = session(&b).await;
    let (status, overview) = page(&b, &cookie, "/admin/").await;
    assert_eq!(status, 200);
    for (op, name) in held
        .iter()
        .zip(["held-a@example.com", "held-b@example.com"])
    {
        assert!(
            overview.contains(&format!("/admin/operations/{op}/release")),
            "{overview}"
        );
        assert!(overview.contains(name), "{overview}");
    }
    let csrf = csrf_of(&overview);
    let origin = root(&b);

    let no_token = post(
        &b,
        &cookie,
        &format!("/admin/operations/{}/release", held[0]),
        &[],
        &origin,
    )
    .await;
    assert_eq!(no_token.status(), 403, "a release without the CSRF token");
    assert_eq!(b.role("held-a@example.com"), "Viewer");

    let res = post(
        &b,
        &cookie,
        &format!("/admin/operations/{}/release", held[0]),
        &[("csrf", &csrf)],
        &origin,
    )
    .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        b.role("held-a@example.com"),
        "Unlicensed",
        "released: carried out"
    );

    let res = post(
        &b,
        &cookie,
        &format!("/admin/operations/{}/discard", held[1]),
        &[("csrf", &csrf)],
        &origin,
    )
    .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        b.role("held-b@example.com"),
        "Viewer",
        "discarded: Tableau left alone"
    );
    let op = b.operations(Some(&ids[1])).await.remove(0);
    assert_eq!(op.state.as_str(), "discarded");

    let again = post(
        &b,
        &cookie,
        &format!("/admin/operations/{}/release", held[1]),
        &[("csrf", &csrf)],
        &origin,
    )
    .await;
    assert_eq!(again.status(), 409);
    assert!(
        again
            .text()
            .await
            .unwrap()
            .contains("is discarded, not held")
    );

    let (_, overview) = page(&b, &cookie, "/admin/").await;
    assert!(overview.contains("Nothing is held"), "{overview}");
}
