//! `X-Request-Id`: the client's id when sane, else a generated UUID, echoed on every response
//! (errors included); and the request's log line, which names the id and the path but never
//! the query, a header or the body.

use crate::helpers::*;
use reqwest::Method;
use reqwest::header::HeaderValue;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

const ID: &str = "x-request-id";

fn echoed(resp: &reqwest::Response) -> String {
    resp.headers()
        .get(ID)
        .expect("X-Request-Id on the response")
        .to_str()
        .expect("a visible-ASCII id")
        .to_owned()
}

fn is_uuid_v4(id: &str) -> bool {
    uuid::Uuid::parse_str(id).is_ok_and(|u| u.get_version_num() == 4)
}

async fn send_with_id(app: &TestApp, id: HeaderValue) -> reqwest::Response {
    app.request(Method::GET, "/ServiceProviderConfig")
        .header(ID, id)
        .send()
        .await
        .expect("request sent")
}

#[tokio::test]
async fn a_client_request_id_is_echoed() {
    let app = spawn_app().await;
    let resp = send_with_id(&app, HeaderValue::from_static("abc-123")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(echoed(&resp), "abc-123");
}

#[tokio::test]
async fn without_a_request_id_a_uuid_is_generated() {
    let app = spawn_app().await;
    let first = echoed(&app.send(Method::GET, "/ServiceProviderConfig", None).await);
    let second = echoed(&app.send(Method::GET, "/ServiceProviderConfig", None).await);
    assert!(is_uuid_v4(&first), "{first}");
    assert!(is_uuid_v4(&second), "{second}");
    assert_ne!(first, second);
}

#[tokio::test]
async fn an_insane_request_id_is_replaced() {
    let app = spawn_app().await;
    let too_long = "a".repeat(129);
    for bad in [
        HeaderValue::from_str(&too_long).unwrap(),
        HeaderValue::from_static("abc\tdef"),
        HeaderValue::from_static("abc def"),
        HeaderValue::from_bytes("café".as_bytes()).unwrap(),
    ] {
        let resp = send_with_id(&app, bad.clone()).await;
        assert_eq!(resp.status(), 200);
        let id = echoed(&resp);
        assert!(is_uuid_v4(&id), "{bad:?} became {id}");
    }
    // 128 characters are still the client's.
    let longest = "b".repeat(128);
    let resp = send_with_id(&app, HeaderValue::from_str(&longest).unwrap()).await;
    assert_eq!(echoed(&resp), longest);
}

#[tokio::test]
async fn errors_carry_the_id_too() {
    let app = spawn_app().await;
    let unauthenticated = app
        .client
        .get(app.url("/Users"))
        .header(ID, "no-token-1")
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), 401);
    assert_eq!(echoed(&unauthenticated), "no-token-1");
    let unknown = app
        .client
        .get(format!(
            "{}/elsewhere",
            app.base_url.trim_end_matches("/scim/v2")
        ))
        .header(ID, "lost-1")
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    assert_eq!(echoed(&unknown), "lost-1");
}

/// Everything the process logs from here on (`tableau_scim=debug`), for the test below. The
/// subscriber is process-wide, so other tests of this binary log into it too.
fn captured_logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Arc::new(Mutex::new(Vec::new()));
        let sink = logs.clone();
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("tableau_scim=debug"))
            .with_ansi(false)
            .with_writer(move || Sink(sink.clone()))
            .try_init()
            .expect("the only subscriber of this test binary");
        logs
    })
    .clone()
}

struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn the_request_log_line_has_the_id_and_path_but_no_query_or_token() {
    let logs = captured_logs();
    let app = spawn_app().await;
    let resp = app
        .request(
            Method::GET,
            "/Users?filter=userName%20eq%20%22secret-user-4711%22",
        )
        .header(ID, "log-test-1")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(echoed(&resp), "log-test-1");
    let text = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
    let line = text
        .lines()
        .find(|l| l.contains("request_id=log-test-1") && l.contains("request done"))
        .unwrap_or_else(|| panic!("no request line in:\n{text}"));
    assert!(line.contains("method=GET"), "{line}");
    assert!(line.contains("path=/scim/v2/Users"), "{line}");
    assert!(line.contains("status=200"), "{line}");
    assert!(line.contains("duration_ms="), "{line}");
    assert!(!text.contains("secret-user-4711"), "{text}");
    assert!(!text.contains(TOKEN), "{text}");
}
