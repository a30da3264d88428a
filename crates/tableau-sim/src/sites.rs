//! The signed-in site: Query Site (`GET /sites/{luid}`, with the licence capacity per tier
//! when limited) and its authentication configurations (`GET /sites/{luid}/site-auth-configurations`,
//! 3.24+; reference §2.2), which name the `idpConfigurationId`s a user may get.

use super::errors::ApiResult;
use super::node::Node;
use super::router::Ctx;
use super::wire::Reply;

/// The site's authentication configurations: (authSetting, idpConfigurationId, name). Fixed:
/// a SAML IdP and Tableau ID with MFA, both enabled.
pub const SITE_AUTH_CONFIGURATIONS: &[(&str, &str, &str)] = &[
    (
        "SAML",
        "5a31d0c4-0000-4000-8000-000000000001",
        "Initial SAML",
    ),
    (
        "TableauIDWithMFA",
        "5a31d0c4-0000-4000-8000-000000000002",
        "TableauIDWithMFA",
    ),
];

const READ: &str = "tableau:users:read";

pub fn query_site(ctx: &Ctx<'_>) -> ApiResult<Reply> {
    let (inner, _session) = ctx.authorize(READ)?;
    let site = &ctx.state.site;
    let mut node = Node::new("site")
        .attr("id", site.id.clone())
        .attr("name", site.name.clone())
        .attr("contentUrl", site.content_url.clone())
        .attr("adminMode", "ContentAndUsers")
        .attr("state", "Active");
    for (tier, usage) in inner.directory.seat_usage() {
        let key = match tier {
            "Creator" => "tierCreatorCapacity",
            "Explorer" => "tierExplorerCapacity",
            "Viewer" => "tierViewerCapacity",
            _ => continue,
        };
        if let Some(limit) = usage.limit {
            node = node.attr(key, limit.to_string());
        }
    }
    Ok(Reply::ok(vec![node]))
}

pub fn auth_configurations(ctx: &Ctx<'_>) -> ApiResult<Reply> {
    let _ = ctx.authorize(READ)?;
    let nodes = SITE_AUTH_CONFIGURATIONS
        .iter()
        .map(|(setting, id, name)| {
            Node::new("siteAuthConfiguration")
                .attr("authSetting", *setting)
                .attr("enabled", "true")
                .attr("idpConfigurationId", *id)
                .attr("idpConfigurationName", *name)
        })
        .collect();
    Ok(Reply::ok(vec![Node::list("siteAuthConfigurations", nodes)]))
}
