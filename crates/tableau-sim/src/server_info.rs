//! `GET /api/{version}/serverinfo`: no sign-in needed; how clients discover the API version.

use super::node::Node;
use super::router::Ctx;
use super::wire::Reply;

/// Tableau release that introduced each REST API version (3.10 = 2020.4 … 3.29 = 2026.2).
fn product_version(api: (u32, u32)) -> String {
    const RELEASES: &[((u32, u32), &str)] = &[
        ((3, 10), "2020.4"),
        ((3, 11), "2021.1"),
        ((3, 12), "2021.2"),
        ((3, 13), "2021.3"),
        ((3, 14), "2021.4"),
        ((3, 15), "2022.1"),
        ((3, 16), "2022.2"),
        ((3, 17), "2022.3"),
        ((3, 18), "2022.4"),
        ((3, 19), "2023.1"),
        ((3, 20), "2023.2"),
        ((3, 21), "2023.3"),
        ((3, 22), "2024.1"),
        ((3, 23), "2024.2"),
        ((3, 24), "2024.3"),
        ((3, 25), "2025.1"),
        ((3, 26), "2025.2"),
        ((3, 27), "2025.3"),
        ((3, 28), "2026.1"),
        ((3, 29), "2026.2"),
    ];
    let release = RELEASES
        .iter()
        .rev()
        .find(|(v, _)| *v <= api)
        .map_or("2020.4", |(_, r)| r);
    format!("{release}.0")
}

pub fn server_info(ctx: &Ctx<'_>) -> Reply {
    let product = product_version(ctx.state.api_version_parsed);
    let build = format!("{}.0.0000.0000", product.replace('.', ""));
    Reply::ok(vec![
        Node::new("serverInfo")
            .child(Node::text_element("productVersion", product).attr("build", build))
            .child(Node::text_element(
                "restApiVersion",
                ctx.state.api_version.clone(),
            )),
    ])
}
