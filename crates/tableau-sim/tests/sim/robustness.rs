//! No request makes the simulator panic or hang: arbitrary bodies, query strings and paths
//! all get a Tableau error (or a success), and the server keeps answering.

use crate::support::*;
use proptest::prelude::*;
use reqwest::{Method, StatusCode};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

const PATHS: &[&str] = &[
    "users",
    "users/x",
    "users/x/groups",
    "groups",
    "groups/x",
    "groups/x/users",
    "groups/x/users/remove",
    "groups/x/users/y",
    "/auth/signin",
    "/auth/signout",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

    #[test]
    fn arbitrary_requests_get_an_answer(
        path in prop::sample::select(PATHS),
        method in prop::sample::select(&[Method::GET, Method::POST, Method::PUT, Method::DELETE][..]),
        json in any::<bool>(),
        body in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..200),
            "<tsRequest>(<[a-z]{1,5}( [a-zA-Z]{1,8}=\"[^\"<&]{0,8}\")*/?>){0,4}(</tsRequest>)?".prop_map(String::into_bytes),
            "\\{\"[a-z]{1,6}\":\\{(\"[a-zA-Z]{1,8}\":\"[a-z]{0,5}\",?){0,3}\\}\\}".prop_map(String::into_bytes),
        ],
        query in "[a-zA-Z=&:,\\[\\]%0-9*]{0,40}",
    ) {
        runtime().block_on(async {
            let sim = start_default().await;
            let client = Client::pat(&sim).await;
            let url = format!("{}{}{}", client.url(path), if path.contains('?') { "&" } else { "?" }, query);
            let content_type = if json { "application/json" } else { "text/xml" };
            let response = client
                .http
                .request(method, url)
                .header("X-Tableau-Auth", &client.token)
                .header("Content-Type", content_type)
                .body(body)
                .send()
                .await
                .expect("an answer");
            let status = response.status();
            let text = response.text().await.expect("a body");
            prop_assert!(status.as_u16() < 500, "{status}: {text}");
            if !status.is_success() {
                prop_assert!(text.contains("<error code=\""), "{text}");
            }
            // Still serving.
            prop_assert_eq!(client.get("/serverinfo").await.0, StatusCode::OK);
            sim.stop().await;
            Ok(())
        })?;
    }
}
