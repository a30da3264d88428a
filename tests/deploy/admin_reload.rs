//! Admin tokens rotated on SIGHUP: the new token signs in to the console, the old one no
//! longer does and the sessions it opened end; a token file that does not load (here: the
//! IdP's token) keeps the tokens in force.

use crate::TOKEN;
use crate::procs::{Proc, serve_cmd, spawn_sim};
use reqwest::header::{LOCATION, SET_COOKIE};
use reqwest::{Client, redirect};

const OLD: &str = "the-old-admin-token-0123456789";
const NEW: &str = "the-new-admin-token-0123456789";

fn browser() -> Client {
    tableau_scim::init_crypto();
    Client::builder()
        .redirect(redirect::Policy::none())
        .build()
        .expect("client")
}

/// The sign-in's status and, on success, the session's `Cookie` header value.
async fn sign_in(root: &str, token: &str) -> (u16, Option<String>) {
    let res = browser()
        .post(format!("{root}/admin/login"))
        .header("Origin", root)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!("token={token}"))
        .send()
        .await
        .expect("sign-in sent");
    let cookie = res
        .headers()
        .get(SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::to_owned);
    (res.status().as_u16(), cookie)
}

/// `GET /admin/` with the session: 200, or 303 to the sign-in page.
async fn overview(root: &str, cookie: &str) -> (u16, Option<String>) {
    let res = browser()
        .get(format!("{root}/admin/"))
        .header("Cookie", cookie)
        .send()
        .await
        .expect("page");
    let location = res
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (res.status().as_u16(), location)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotated_admin_tokens_take_effect_on_sighup() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (_sim, sim_url) = spawn_sim(d, &[]).await;
    let tokens = d.join("admin-tokens");
    std::fs::write(&tokens, format!("{OLD}\n")).unwrap();
    let mut cmd = serve_cmd(d, &sim_url);
    cmd.env("TABLEAU_SCIM_ADMIN__TOKENS_FILE", &tokens)
        .env("NO_COLOR", "1");
    let mut server = Proc::spawn(&mut cmd, &d.join("bridge.log"));
    let url = server.url_after("tableau-scim serving SCIM 2.0").await;
    let root = url.strip_suffix("/scim/v2").unwrap_or(&url).to_owned();

    let (status, cookie) = sign_in(&root, OLD).await;
    assert_eq!(status, 303, "the old token signs in");
    let old_session = cookie.expect("a session cookie");
    assert_eq!(overview(&root, &old_session).await.0, 200);

    // A file that does not load (an admin token may not be the IdP's): nothing changes.
    std::fs::write(&tokens, format!("{TOKEN}\n")).unwrap();
    server.signal("HUP");
    server
        .line_with("SIGHUP: the new admin tokens do not load; kept the old ones")
        .await;
    assert_eq!(sign_in(&root, OLD).await.0, 303);
    assert_eq!(overview(&root, &old_session).await.0, 200);

    std::fs::write(&tokens, format!("{NEW}\n")).unwrap();
    server.signal("HUP");
    server
        .line_with("SIGHUP: reloaded the admin tokens (1)")
        .await;
    assert_eq!(
        overview(&root, &old_session).await,
        (303, Some("/admin/login".to_owned())),
        "the old token's session ended"
    );
    assert_eq!(sign_in(&root, OLD).await.0, 401, "the old token is refused");
    let (status, cookie) = sign_in(&root, NEW).await;
    assert_eq!(status, 303, "the new token signs in");
    assert_eq!(overview(&root, &cookie.expect("cookie")).await.0, 200);
    // The IdP's token still works for SCIM: its credentials were reloaded unchanged.
    let scim = browser()
        .get(format!("{url}/Users"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("SCIM");
    assert_eq!(scim.status().as_u16(), 200);
}
