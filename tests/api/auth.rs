use crate::helpers::*;
use base64::Engine;

#[tokio::test]
async fn missing_or_wrong_token_is_401_with_scim_body() {
    let app = spawn_app().await;
    for auth in [
        None,
        Some("Bearer wrong-token-wrong-token"),
        Some("Basic Zm9vOmJhcg=="),
        Some("garbage"),
    ] {
        let mut r = app.client.get(app.url("/Users"));
        if let Some(a) = auth {
            r = r.header("Authorization", a);
        }
        let resp = r.send().await.unwrap();
        assert!(resp.headers().get("www-authenticate").is_some());
        let (s, b) = json_of(resp).await;
        assert_error(s, &b, 401, None);
    }
}

#[tokio::test]
async fn every_endpoint_requires_auth() {
    let app = spawn_app().await;
    for path in [
        "/ServiceProviderConfig",
        "/Schemas",
        "/ResourceTypes",
        "/Groups",
        "/Users/x",
    ] {
        let (s, b) = json_of(app.client.get(app.url(path)).send().await.unwrap()).await;
        assert_error(s, &b, 401, None);
    }
}

#[tokio::test]
async fn http_basic_credentials_work_when_configured() {
    let app = spawn_app_with(|s| {
        s.auth.basic_username = Some("okta".into());
        s.auth.basic_password = Some("s3cret-password-16".into());
    })
    .await;
    let good = base64::engine::general_purpose::STANDARD.encode("okta:s3cret-password-16");
    let resp = app
        .client
        .get(app.url("/Users"))
        .header("Authorization", format!("Basic {good}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let (s, b) = app.get("/ServiceProviderConfig").await;
    assert_eq!(s, 200);
    assert_eq!(b["authenticationSchemes"][1]["type"], "httpbasic");
}
