//! `tableau-scim check`: what an admin runs before going live. Validates the settings, opens
//! the store without changing it, signs in to Tableau and prints a checklist, each line ✔ or
//! ✘ with the fix. The caller exits 1 on any ✘.

use crate::config::Settings;
use crate::http::auth::Credentials;
use crate::tableau::TableauClient;
use std::fmt::Write as _;
use std::path::Path;

/// One checked item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub ok: bool,
    pub text: String,
}

#[derive(Debug, Default)]
pub struct Checklist {
    pub lines: Vec<Line>,
}

impl Checklist {
    fn pass(&mut self, text: impl Into<String>) {
        self.lines.push(Line {
            ok: true,
            text: text.into(),
        });
    }

    fn fail(&mut self, text: impl Into<String>) {
        self.lines.push(Line {
            ok: false,
            text: text.into(),
        });
    }

    pub fn failures(&self) -> usize {
        self.lines.iter().filter(|l| !l.ok).count()
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        for l in &self.lines {
            let _ = writeln!(out, "{} {}", if l.ok { "✔" } else { "✘" }, l.text);
        }
        out
    }
}

/// Runs every check; never stops at the first ✘ unless what follows depends on it.
pub async fn run(config: Option<&Path>) -> Checklist {
    let mut c = Checklist::default();
    let settings = match Settings::load(config) {
        Ok(s) => {
            c.pass(match config {
                Some(p) => format!("settings: {} and the environment are valid", p.display()),
                None => "settings: defaults and the environment are valid".to_string(),
            });
            s
        }
        Err(e) => {
            c.fail(format!("settings: {e}"));
            return c;
        }
    };
    check_credentials(&mut c, &settings);
    check_public_url(&mut c, &settings);
    check_tls(&mut c, &settings);
    check_store(&mut c, &settings).await;
    check_tableau(&mut c, &settings).await;
    c
}

fn check_credentials(c: &mut Checklist, settings: &Settings) {
    match Credentials::from_settings(&settings.auth) {
        Ok(cr) if cr.is_empty() => c.fail(
            "IdP credentials: none; set auth.tokens_file (or auth.token_hashes, see \
             `tableau-scim hash-token`) so that only your identity provider can call the bridge",
        ),
        Ok(cr) => c.pass(format!("IdP credentials: {}", cr.summary())),
        Err(e) => c.fail(format!("IdP credentials: {e}")),
    }
}

fn check_public_url(c: &mut Checklist, settings: &Settings) {
    let Some(url) = &settings.public_url else {
        c.pass(
            "public_url: not set; resource locations follow the Host the IdP used (set \
             public_url = \"https://scim.example.com\" behind a reverse proxy)",
        );
        return;
    };
    let parsed = url::Url::parse(url).ok();
    let loopback = parsed
        .as_ref()
        .and_then(|u| u.host_str())
        .is_some_and(|h| h == "localhost" || h.starts_with("127.") || h == "[::1]");
    match parsed {
        Some(u) if u.scheme() == "http" && !loopback => c.fail(format!(
            "public_url {url} is plain HTTP: Entra ID and Okta need https://; serve TLS \
             (tls.cert_file) or put a reverse proxy in front (docs/deploy.md)"
        )),
        _ => c.pass(format!("public_url {url} is well formed")),
    }
}

fn check_tls(c: &mut Checklist, settings: &Settings) {
    match crate::config_check::tls_files(settings) {
        Ok(None) => c.pass(format!(
            "TLS: off, plain HTTP on {} (fine behind a TLS reverse proxy, see docs/deploy.md)",
            settings.listen
        )),
        Ok(Some((cert, key))) => match crate::tls::load_certified_key(&cert, &key) {
            Ok(k) => c.pass(format!(
                "TLS: {} ({} certificate(s) in the chain) and its key load",
                cert.display(),
                k.cert.len()
            )),
            Err(e) => c.fail(format!("TLS: {e}")),
        },
        Err(e) => c.fail(format!("TLS: {e}")),
    }
}

async fn check_store(c: &mut Checklist, settings: &Settings) {
    let url = settings.store_url();
    let shown = crate::app::redact_url(&url);
    match crate::store::pending_migrations(&url).await {
        Ok(None) => c.pass(format!(
            "store {shown}: not created yet; the server creates it (mode 0600) at its first start"
        )),
        Ok(Some(state)) if !state.unknown.is_empty() => c.fail(format!(
            "store {shown}: migration(s) {} recorded in it are unknown to this version of \
             tableau-scim (a newer version migrated it; run that version or restore a backup)",
            versions(&state.unknown)
        )),
        Ok(Some(state)) if !state.edited.is_empty() => c.fail(format!(
            "store {shown}: migration(s) {} were applied from another text than this version's \
             (the server would refuse to start; run the version that migrated it)",
            versions(&state.edited)
        )),
        Ok(Some(state)) if state.pending == 0 => {
            c.pass(format!("store {shown}: opens, schema up to date"))
        }
        Ok(Some(state)) => c.pass(format!(
            "store {shown}: opens, {} migration(s) pending (the server applies them at start)",
            state.pending
        )),
        Err(e) => c.fail(format!(
            "store {shown}: {e} (check `store` / --store and that the database accepts the \
             connection)"
        )),
    }
}

fn versions(list: &[i64]) -> String {
    list.iter()
        .map(|v| format!("{v:04}"))
        .collect::<Vec<_>>()
        .join(", ")
}

const ADMIN_ROLES: [&str; 4] = [
    "SiteAdministratorCreator",
    "SiteAdministratorExplorer",
    "SiteAdministrator",
    "ServerAdministrator",
];

async fn check_tableau(c: &mut Checklist, settings: &Settings) {
    let Some(t) = &settings.tableau else {
        c.fail(
            "tableau: no [tableau] section; the bridge would only store resources (give url, \
             site and auth, see docs/configuration.md)",
        );
        return;
    };
    let client = match TableauClient::new(t.clone()) {
        Ok(client) => client,
        Err(e) => {
            c.fail(format!("tableau: {e}"));
            return;
        }
    };
    match client.server_info().await {
        Ok(info) => c.pass(format!(
            "Tableau at {}: product {}{}, REST API {}",
            t.url,
            info.product_version.as_deref().unwrap_or("(not reported)"),
            info.build
                .map(|b| format!(" (build {b})"))
                .unwrap_or_default(),
            info.rest_api_version
        )),
        Err(e) => {
            c.fail(format!(
                "Tableau at {}: {e} (check tableau.url: the server root, e.g. \
                 https://10ay.online.tableau.com, reachable from this machine)",
                t.url
            ));
            return;
        }
    }
    let site = if t.site.is_empty() {
        "the Default site".to_string()
    } else {
        format!("site '{}'", t.site)
    };
    if let Err(e) = client.sign_in().await {
        c.fail(format!(
            "sign-in to {site}: {e} (check tableau.site, the content URL as in the site's \
             address, and tableau.auth: a PAT's name and secret, unexpired and not revoked)"
        ));
        return;
    }
    let version = client.api_version().await.unwrap_or_default();
    match client.site_details().await {
        Ok(details) => {
            c.pass(format!(
                "sign-in: {site} found (id {}{})",
                details.id,
                details
                    .name
                    .map(|n| format!(", name \"{n}\""))
                    .unwrap_or_default()
            ));
            if details.capacity.is_empty() {
                c.pass("licences: the server reports no seat limits per licence");
            } else {
                let seats: Vec<String> = details
                    .capacity
                    .iter()
                    .map(|(tier, n)| format!("{tier} {n}"))
                    .collect();
                c.pass(format!("licences: seats {}", seats.join(", ")));
            }
        }
        Err(e) => c.fail(format!("sign-in: Query Site failed: {e}")),
    }
    check_admin(c, &client).await;
    check_auth_setting(c, settings, &client, &version).await;
    check_group_rules(c, settings);
    if let Some(owner) = &settings.provision.content_owner {
        match client.find_user_by_name(owner).await {
            Ok(Some(_)) => c.pass(format!(
                "provision.content_owner {owner} exists on the site"
            )),
            Ok(None) => c.fail(format!(
                "provision.content_owner {owner} is not a user of the site: give an existing \
                 Tableau user name, or leave it out"
            )),
            Err(e) => c.fail(format!("provision.content_owner {owner}: {e}")),
        }
    }
    let _ = client.sign_out().await;
}

async fn check_admin(c: &mut Checklist, client: &TableauClient) {
    let Some(user_id) = client.signed_in_user_id() else {
        c.fail("signed-in user: Tableau did not say who signed in; cannot check the site role");
        return;
    };
    match client.get_user(&user_id).await {
        Ok(u) if ADMIN_ROLES.contains(&u.site_role.as_str()) => c.pass(format!(
            "signed-in user {} is a site administrator ({})",
            u.name, u.site_role
        )),
        Ok(u) => c.fail(format!(
            "signed-in user {} is {}: the bridge needs a site administrator (make the PAT's \
             owner Site Administrator Creator or Explorer)",
            u.name, u.site_role
        )),
        Err(e) => c.fail(format!("signed-in user: {e}")),
    }
}

async fn check_auth_setting(
    c: &mut Checklist,
    settings: &Settings,
    client: &TableauClient,
    version: &str,
) {
    let policy = &settings.provision;
    if policy.auth_setting.is_none() && policy.idp_configuration_id.is_none() {
        c.pass("provision.auth_setting: not set; new users get the site's default authentication");
        return;
    }
    let at_least_3_24 = version
        .split_once('.')
        .and_then(|(a, b)| Some((a.parse::<u32>().ok()?, b.parse::<u32>().ok()?)))
        .is_some_and(|v| v >= (3, 24));
    if !at_least_3_24 {
        match &policy.idp_configuration_id {
            Some(_) => c.fail(format!(
                "provision.idp_configuration_id needs REST API 3.24 or later (this server: \
                 {version}); use provision.auth_setting instead"
            )),
            None => c.pass(format!(
                "provision.auth_setting: REST API {version} cannot list the site's \
                 authentication configurations; not verified"
            )),
        }
        return;
    }
    let configs = match client.site_auth_configurations().await {
        Ok(configs) => configs,
        Err(e) => {
            c.fail(format!("site authentication configurations: {e}"));
            return;
        }
    };
    let enabled: Vec<_> = configs.iter().filter(|a| a.enabled).collect();
    if let Some(id) = &policy.idp_configuration_id {
        if enabled
            .iter()
            .any(|a| a.idp_configuration_id.as_deref() == Some(id.as_str()))
        {
            c.pass(format!(
                "provision.idp_configuration_id {id} is enabled on the site"
            ));
        } else {
            let known: Vec<String> = enabled
                .iter()
                .filter_map(|a| {
                    a.idp_configuration_id.as_ref().map(|i| {
                        format!(
                            "{i} ({})",
                            a.idp_configuration_name
                                .as_deref()
                                .unwrap_or(&a.auth_setting)
                        )
                    })
                })
                .collect();
            c.fail(format!(
                "provision.idp_configuration_id {id} is not an enabled configuration of the \
                 site; the site has: {}",
                known.join(", ")
            ));
        }
    }
    if let Some(setting) = &policy.auth_setting {
        let known: Vec<&str> = enabled.iter().map(|a| a.auth_setting.as_str()).collect();
        if setting.eq_ignore_ascii_case("ServerDefault")
            || known.iter().any(|k| k.eq_ignore_ascii_case(setting))
        {
            c.pass(format!(
                "provision.auth_setting {setting} is valid on the site"
            ));
        } else {
            c.fail(format!(
                "provision.auth_setting {setting} is not enabled on the site; use one of: {}",
                known.join(", ")
            ));
        }
    }
}

fn check_group_rules(c: &mut Checklist, settings: &Settings) {
    let rules = &settings.provision.group_roles;
    let roles: Vec<String> = rules
        .iter()
        .map(|r| format!("{} → {}", r.group, r.site_role))
        .collect();
    c.pass(format!(
        "site roles: default {}; group rules: {}",
        settings.provision.default_site_role,
        if roles.is_empty() {
            "none".to_string()
        } else {
            roles.join(", ")
        }
    ));
}
