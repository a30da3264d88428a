//! Sign-in, sessions and the checks around them: PAT single session, passwords, connected-app
//! JWTs as Tableau checks them, token expiry, 401000/401002, wrong site, version paths.

use std::time::Duration;

use crate::support::*;
use reqwest::StatusCode;
use serde_json::json;
use tableau_sim::SimConfig;

#[tokio::test]
async fn server_info_needs_no_sign_in_and_reports_versions() {
    let sim = start_default().await;
    let response = http()
        .get(format!("{}/serverinfo", sim.api_url()))
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["serverInfo"]["restApiVersion"], "3.27");
    assert_eq!(body["serverInfo"]["productVersion"]["value"], "2025.3.0");
    // Any version up to the server's works; above it the resource is unknown.
    let old = http()
        .get(format!("{}/api/2.4/serverInfo", sim.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(old.status(), StatusCode::OK);
    let newer = http()
        .get(format!("{}/api/3.28/serverinfo", sim.url()))
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(newer.status(), StatusCode::NOT_FOUND);
    // Tableau's JSON error: summary, detail, code (a string), in that order.
    assert_eq!(
        newer.text().await.unwrap(),
        r#"{"error":{"summary":"Resource Not Found","detail":"Unknown resource '/3.28/serverinfo' specified in URI.","code":"404003"}}"#
    );
    sim.stop().await;
}

#[tokio::test]
async fn pat_allows_one_session_at_a_time() {
    let sim = start_default().await;
    let first = Client::pat(&sim).await;
    assert_eq!(first.get("users").await.0, StatusCode::OK);
    let second = Client::pat(&sim).await;
    let (status, body) = first.get("users").await;
    assert_eq!((status, code(&body)), (StatusCode::UNAUTHORIZED, "401002"));
    assert_eq!(second.get("users").await.0, StatusCode::OK);
    // Password sessions do not end each other.
    let a = Client::admin(&sim).await;
    let b = Client::admin(&sim).await;
    assert_eq!(a.get("users").await.0, StatusCode::OK);
    assert_eq!(b.get("users").await.0, StatusCode::OK);
    sim.stop().await;
}

#[tokio::test]
async fn sign_in_failures_answer_401001_or_400000() {
    let sim = start_default().await;
    let api = sim.api_url();
    let cases = [
        json!({"personalAccessTokenName": "sim-pat", "personalAccessTokenSecret": "nope", "site": {"contentUrl": SITE}}),
        json!({"personalAccessTokenName": "sim-pat", "personalAccessTokenSecret": "sim-pat-secret", "site": {"contentUrl": "elsewhere"}}),
        json!({"name": "admin", "password": "wrong", "site": {"contentUrl": SITE}}),
        json!({"name": "nobody", "password": "admin-password", "site": {"contentUrl": SITE}}),
    ];
    for credentials in cases {
        let (status, body) = sign_in_raw(&api, credentials).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::UNAUTHORIZED, "401001"),
            "{body}"
        );
    }
    let both = json!({"name": "admin", "password": "admin-password", "personalAccessTokenName": "sim-pat",
                      "personalAccessTokenSecret": "sim-pat-secret", "site": {"contentUrl": SITE}});
    assert_eq!(code(&sign_in_raw(&api, both).await.1), "400000");
    let unknown_key = json!({"name": "admin", "password": "admin-password", "colour": "red", "site": {"contentUrl": SITE}});
    let (_, body) = sign_in_raw(&api, unknown_key).await;
    assert_eq!(code(&body), "400000");
    assert!(
        body["error"]["detail"]
            .as_str()
            .unwrap()
            .contains("Unrecognized field \"colour\"")
    );
    sim.stop().await;
}

/// tableauserverclient's default flow signs in at its default API version (2.4) with whatever
/// credential it holds, then switches to the server's version: every credential kind is
/// accepted at every version served, and the session works at the server's version.
#[tokio::test]
async fn every_credential_kind_signs_in_at_every_version() {
    let sim = start_default().await;
    for version in ["2.0", "2.4", "3.5", "3.16", "3.27"] {
        let api = format!("{}/api/{version}", sim.url());
        let token = jwt(claims("admin"), json!({}));
        for credentials in [
            pat_credentials(),
            jwt_credentials(&token),
            json!({"name": "admin", "password": "admin-password", "site": {"contentUrl": SITE}}),
        ] {
            let client = Client::sign_in_at(api.clone(), credentials).await;
            let at_server_version = Client {
                api: sim.api_url(),
                ..client
            };
            assert_eq!(
                at_server_version.get("users").await.0,
                StatusCode::OK,
                "session opened at {version}"
            );
        }
    }
    // Wrong credentials are still refused at an old version.
    let mut wrong = pat_credentials();
    wrong["personalAccessTokenSecret"] = json!("nope");
    let (status, body) = sign_in_raw(&format!("{}/api/2.4", sim.url()), wrong).await;
    assert_eq!((status, code(&body)), (StatusCode::UNAUTHORIZED, "401001"));
    sim.stop().await;
}

#[tokio::test]
async fn connected_app_jwt_is_checked_like_tableau() {
    let sim = start_default().await;
    let api = sim.api_url();
    let ok = jwt(claims("admin"), json!({"iss": "sim-client"}));
    let client = Client::sign_in_at(api.clone(), jwt_credentials(&ok)).await;
    assert_eq!(client.get("users").await.0, StatusCode::OK);
    // The same token (same jti) cannot be replayed.
    assert_eq!(
        code(&sign_in_raw(&api, jwt_credentials(&ok)).await.1),
        "401001"
    );

    let with = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut c = claims("admin");
        f(&mut c);
        c
    };
    let refused = [
        (
            "exp over 10 minutes ahead",
            jwt(with(&|c| c["exp"] = json!(now() + 11 * 60)), json!({})),
        ),
        (
            "expired",
            jwt(with(&|c| c["exp"] = json!(now() - 5)), json!({})),
        ),
        (
            "wrong audience",
            jwt(with(&|c| c["aud"] = json!("tableau-cloud")), json!({})),
        ),
        (
            "wrong issuer",
            jwt(with(&|c| c["iss"] = json!("other-client")), json!({})),
        ),
        ("no scopes", jwt(with(&|c| c["scp"] = json!([])), json!({}))),
        (
            "no jti",
            jwt(
                with(&|c| {
                    c.as_object_mut().unwrap().remove("jti");
                }),
                json!({}),
            ),
        ),
        ("unknown user", jwt(claims("nobody"), json!({}))),
        ("sub is case-sensitive", jwt(claims("ADMIN"), json!({}))),
        (
            "unknown kid",
            jwt(claims("admin"), json!({"kid": "other-secret"})),
        ),
        (
            "header iss differs",
            jwt(claims("admin"), json!({"iss": "other-client"})),
        ),
        (
            "wrong secret",
            jwt(claims("admin"), json!({"secret": "not-the-secret"})),
        ),
        ("not a JWT", "abc.def".to_owned()),
    ];
    for (why, token) in refused {
        let (status, body) = sign_in_raw(&api, jwt_credentials(&token)).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::UNAUTHORIZED, "401001"),
            "{why}: {body}"
        );
    }
    sim.stop().await;
}

#[tokio::test]
async fn jwt_scopes_limit_what_a_session_may_call() {
    let sim = start_default().await;
    let mut c = claims("admin");
    c["scp"] = json!(["tableau:users:read", "tableau:groups:create"]);
    let client = Client::sign_in_at(sim.api_url(), jwt_credentials(&jwt(c, json!({})))).await;
    assert_eq!(client.get("users").await.0, StatusCode::OK);
    let (status, body) = client
        .post(
            "users",
            json!({"user": {"name": "x", "siteRole": "Viewer"}}),
        )
        .await;
    assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "403000"));
    assert_eq!(
        client
            .post("groups", json!({"group": {"name": "g"}}))
            .await
            .0,
        StatusCode::CREATED
    );
    assert_eq!(code(&client.get("groups").await.1), "403000");
    sim.stop().await;
}

#[tokio::test]
async fn missing_unknown_and_signed_out_tokens() {
    let sim = start_default().await;
    let client = Client::pat(&sim).await;
    let response = http()
        .get(client.url("users"))
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(code(&response.json().await.unwrap()), "401000");
    let forged = Client {
        token: "forged".into(),
        ..Client::pat(&sim).await
    };
    assert_eq!(code(&forged.get("users").await.1), "401002");

    let client = Client::admin(&sim).await;
    let (status, _) = client
        .call(reqwest::Method::POST, "/auth/signout", None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(code(&client.get("users").await.1), "401002");
    sim.stop().await;
}

#[tokio::test]
async fn idle_tokens_expire() {
    let sim = start(SimConfig::default().with_token_idle_timeout(Duration::from_millis(300))).await;
    let client = Client::pat(&sim).await;
    assert_eq!(client.get("users").await.0, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(700)).await;
    let (status, body) = client.get("users").await;
    assert_eq!((status, code(&body)), (StatusCode::UNAUTHORIZED, "401002"));
    sim.stop().await;
}

#[tokio::test]
async fn wrong_site_unknown_resource_and_wrong_method() {
    let sim = start_default().await;
    let client = Client::pat(&sim).await;
    let (status, body) = client
        .get("/sites/00000000-0000-4000-8000-000000000000/users")
        .await;
    assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "404000"));
    let (status, body) = client.get("views").await;
    assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "404003"));
    let (status, body) = client.call(reqwest::Method::PATCH, "users", None).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::METHOD_NOT_ALLOWED, "405000")
    );
    let response = http()
        .get(format!("{}/nothing/here", sim.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(response.text().await.unwrap().contains("code=\"404003\""));
    sim.stop().await;
}

#[tokio::test]
async fn xml_sign_in_with_or_without_namespace() {
    let sim = start_default().await;
    for body in [
        format!(
            r#"<tsRequest><credentials name="admin" password="admin-password"><site contentUrl="{SITE}"/></credentials></tsRequest>"#
        ),
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><ts:tsRequest xmlns:ts="http://tableau.com/api"><ts:credentials name="admin" password="admin-password"><ts:site contentUrl="{SITE}"/></ts:credentials></ts:tsRequest>"#
        ),
    ] {
        let response = http()
            .post(format!("{}/auth/signin", sim.api_url()))
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            content_type.starts_with("application/xml"),
            "{content_type}"
        );
        let text = response.text().await.unwrap();
        assert!(
            text.contains(r#"<tsResponse xmlns="http://tableau.com/api""#),
            "{text}"
        );
        assert!(
            text.contains(&format!(r#"contentUrl="{SITE}""#))
                && text.contains("<credentials token=\"")
        );
    }
    let response = http()
        .post(format!("{}/auth/signin", sim.api_url()))
        .body("<tsRequest><credentials")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains(r#"<error code="400000">"#)
    );
    sim.stop().await;
}
