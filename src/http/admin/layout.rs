//! The console's page frame and small shared pieces. Everything goes through maud, which
//! escapes every value it interpolates: a displayName of `<script>…` is text, never markup.
//! No inline script or style anywhere (the CSP forbids them): the CSS and the polling script
//! are static files served from the binary (`assets`).

use super::session::Session;
use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use maud::{DOCTYPE, Markup, html};
use serde_json::Value;

/// A whole page: the navigation (with the sign-out form when signed in), then `body`.
pub fn page(title: &str, session: Option<&Session>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · tableau-scim console" }
                link rel="stylesheet" href="/admin/assets/console.css";
                script src="/admin/assets/console.js" defer {}
            }
            body {
                header.top {
                    span.brand { "tableau-scim" }
                    @if let Some(s) = session {
                        nav {
                            a href="/admin/" { "Overview" }
                            a href="/admin/operations" { "Operations" }
                        }
                        form.signout method="post" action="/admin/logout" {
                            input type="hidden" name="csrf" value=(s.csrf);
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                main {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

/// An HTML answer.
pub fn respond(status: StatusCode, markup: Markup) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(markup.into_string())
}

/// A page saying what went wrong (a store error, an unknown id), with `status`.
pub fn error_page(status: StatusCode, session: Option<&Session>, message: &str) -> HttpResponse {
    respond(
        status,
        page(
            status.canonical_reason().unwrap_or("Error"),
            session,
            html! { p.error { (message) } },
        ),
    )
}

/// JSON, indented, as text (escaped when interpolated).
pub fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

/// A body as journaled: pretty-printed when it is JSON.
pub fn pretty_text(text: &str) -> String {
    match serde_json::from_str::<Value>(text) {
        Ok(v) => pretty(&v),
        Err(_) => text.to_owned(),
    }
}

/// A state as a badge (an operation's, a step's, or `refused`).
pub fn badge(state: &str) -> Markup {
    let class = match state {
        "running" | "succeeded" | "failed" | "refused" | "done" | "pending" | "held"
        | "discarded" | "planned" | "converged" => state,
        _ => "other",
    };
    html! { span class={ "badge " (class) } { (state) } }
}

/// `2026-12-06T01:02:03.456Z` as `2026-12-06 01:02:03` (UTC).
pub fn short_time(ts: &str) -> String {
    ts.get(..19).unwrap_or(ts).replacen('T', " ", 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped() {
        let evil = "<script>alert(1)</script><img src=x onerror=alert(2)>";
        let html = page(evil, None, html! { p { (evil) } }).into_string();
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x"));
        assert_eq!(
            short_time("2026-12-06T01:02:03.456Z"),
            "2026-12-06 01:02:03"
        );
        assert!(
            badge("x\"><b>")
                .into_string()
                .contains("class=\"badge other\"")
        );
    }
}
