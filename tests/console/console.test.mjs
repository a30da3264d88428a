// Browser tests of the admin console in real headless Chromium (Debian's, driven by
// playwright-core: no browser download). run.sh starts a `tableau-scim demo` and passes its
// URLs and tokens in the environment. Each scenario prints "ok - NAME" or "not ok - NAME";
// the last line is "passed N failed M", and the exit status is non-zero on any failure.
// Screenshots of each page go to $SCREENSHOTS.

import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";

const ROOT = process.env.CONSOLE_ROOT; // http://127.0.0.1:PORT
const SCIM = process.env.SCIM_URL; // http://127.0.0.1:PORT/scim/v2
const IDP = process.env.IDP_TOKEN;
const ADMIN = process.env.ADMIN_TOKEN;
const SHOTS = process.env.SCREENSHOTS || "target/console-screenshots";
const EVIL = "<script>alert(1)</script><img src=x onerror=alert(2)>";
mkdirSync(SHOTS, { recursive: true });

let passed = 0;
let failed = 0;
async function scenario(name, body) {
  try {
    await body();
    passed += 1;
    console.log(`ok - ${name}`);
  } catch (e) {
    failed += 1;
    console.log(`not ok - ${name}\n  ${String(e && e.stack ? e.stack : e).split("\n").join("\n  ")}`);
  }
}
function check(cond, what) {
  if (!cond) throw new Error(`expected: ${what}`);
}

// The IdP's side: SCIM requests as Okta sends them.
async function scim(method, path, body) {
  const res = await fetch(`${SCIM}${path}`, {
    method,
    headers: { Authorization: `Bearer ${IDP}`, "Content-Type": "application/scim+json" },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}
const oktaUser = (userName, displayName, externalId) => ({
  schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"],
  userName,
  name: { givenName: "Alice", familyName: "Smith" },
  emails: [{ primary: true, value: userName, type: "work" }],
  displayName,
  locale: "en-US",
  externalId,
  groups: [],
  password: "Okta-Sends-A-Password-1",
  active: true,
});

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-dev-shm-usage"],
});
const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
const page = await context.newPage();
const dialogs = [];
page.on("dialog", async (d) => {
  dialogs.push(d.message());
  await d.dismiss();
});
const cspViolations = [];
page.on("console", (m) => {
  if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
});

async function signIn(token) {
  await page.goto(`${ROOT}/admin/login`);
  await page.fill("#token", token);
  const [res] = await Promise.all([page.waitForNavigation(), page.click("button[type=submit]")]);
  return res;
}

await scenario("a wrong admin token is refused", async () => {
  const res = await signIn("not-the-admin-token-0123");
  check(res.status() === 401, `401, got ${res.status()}`);
  check((await page.textContent("p.error")).includes("not an admin token"), "the message");
  await page.screenshot({ path: `${SHOTS}/sign-in-refused.png`, fullPage: true });
});

await scenario("the IdP's bearer token does not open the console", async () => {
  const res = await signIn(IDP);
  check(res.status() === 401, `401, got ${res.status()}`);
  const viaHeader = await fetch(`${ROOT}/admin/`, {
    headers: { Authorization: `Bearer ${IDP}` },
    redirect: "manual",
  });
  check(viaHeader.status === 303, `a redirect to the sign-in form, got ${viaHeader.status}`);
});

await scenario("the admin token signs in (HttpOnly, SameSite=Strict cookie)", async () => {
  await signIn(ADMIN);
  check(page.url() === `${ROOT}/admin/`, `the overview, at ${page.url()}`);
  await page.waitForSelector("#health");
  const cookies = await context.cookies();
  const session = cookies.find((c) => c.name === "tableau_scim_admin");
  check(session && session.httpOnly && session.sameSite === "Strict" && session.path === "/admin", "cookie attributes");
  check((await page.evaluate(() => document.cookie)) === "", "the cookie is not readable by scripts");
  await page.screenshot({ path: `${SHOTS}/overview.png`, fullPage: true });
});

let aliceId;
let groupId;
await scenario("operations pushed over SCIM appear without reloading", async () => {
  await page.goto(`${ROOT}/admin/operations`);
  let navigations = 0;
  page.on("framenavigated", (f) => {
    if (f === page.mainFrame()) navigations += 1;
  });
  const alice = await scim("POST", "/Users", oktaUser("alice@acme.com", "Alice Smith", "00u1alice"));
  check(alice.status === 201, `user created, got ${alice.status}`);
  aliceId = alice.body.id;
  const group = await scim("POST", "/Groups", {
    schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"],
    displayName: "Analysts",
    members: [],
  });
  check(group.status === 201, `group created, got ${group.status}`);
  groupId = group.body.id;
  const patch = await scim("PATCH", `/Groups/${groupId}`, {
    schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    Operations: [{ op: "add", path: "members", value: [{ value: aliceId, display: "alice@acme.com" }] }],
  });
  check(patch.status === 204 || patch.status === 200, `members added, got ${patch.status}`);
  const refused = await scim("POST", "/Users", { schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"], userName: "" });
  check(refused.status === 400, `an invalid user refused, got ${refused.status}`);
  await page.waitForSelector("tbody#rows tr >> text=PATCH /scim/v2/Groups", { timeout: 15000 });
  await page.waitForSelector("tbody#rows tr[data-state=refused]", { timeout: 15000 });
  check(navigations === 0, `no reload (${navigations} navigations)`);
  const rows = await page.locator("tbody#rows tr").count();
  check(rows >= 4, `4 rows at least, got ${rows}`);
  await page.screenshot({ path: `${SHOTS}/operations.png`, fullPage: true });
});

await scenario("an operation shows its Tableau calls with the request body", async () => {
  await page.goto(`${ROOT}/admin/operations?kind=User&q=alice`);
  await Promise.all([page.waitForNavigation(), page.click("tbody#rows a[href^='/admin/operations/']")]);
  await page.waitForSelector("section.steps .call");
  const text = await page.textContent("main");
  check(text.includes("POST /scim/v2/Users"), "the SCIM request");
  check(text.includes("[redacted]") && !text.includes("Okta-Sends-A-Password-1"), "the password redacted");
  const calls = await page.locator(".call h4").allTextContents();
  check(calls.some((c) => /POST .*\/users$/.test(c.trim())), `an Add User call, got ${calls.join(" | ")}`);
  const bodies = await page.locator(".call .request pre.body").allTextContents();
  check(bodies.some((b) => b.includes('"siteRole"') && b.includes("alice@acme.com")), "the Add User request body");
  check((await page.locator(".call .response pre.http").allTextContents()).some((s) => s.includes("HTTP 201")), "its response status");
  await page.screenshot({ path: `${SHOTS}/operation.png`, fullPage: true });
});

await scenario("a hostile displayName is rendered as text, no script runs", async () => {
  const evil = await scim("POST", "/Users", oktaUser("mallory@acme.com", EVIL, "00u2mallory"));
  check(evil.status === 201, `created, got ${evil.status}`);
  await page.goto(`${ROOT}/admin/users/${evil.body.id}`);
  await page.waitForSelector("#scim-resource");
  check((await page.textContent("#scim-resource")).includes(EVIL), "the name shown as text");
  check((await page.locator("main img").count()) === 0, "no img element was created");
  await page.goto(`${ROOT}/admin/operations?q=mallory`);
  await Promise.all([page.waitForNavigation(), page.click("tbody#rows a[href^='/admin/operations/']")]);
  check((await page.textContent("#scim-request")).includes(EVIL), "in the SCIM request too");
  await page.waitForTimeout(500);
  check(dialogs.length === 0, `no dialog, got ${dialogs.join(", ")}`);
  await page.screenshot({ path: `${SHOTS}/hostile-name.png`, fullPage: true });
});

await scenario("user and group pages show the Tableau side and the rule", async () => {
  await page.goto(`${ROOT}/admin/users/${aliceId}`);
  const role = await page.textContent("#site-role");
  check(role.includes("Viewer") && role.includes("default_site_role"), `the rule, got ${role}`);
  await page.waitForSelector("#tableau-user");
  check((await page.textContent("#tableau-user")).includes("Analysts"), "Tableau's groups");
  await page.screenshot({ path: `${SHOTS}/user.png`, fullPage: true });
  await page.goto(`${ROOT}/admin/groups/${groupId}`);
  check((await page.textContent("main")).includes(aliceId), "its member");
  await page.screenshot({ path: `${SHOTS}/group.png`, fullPage: true });
});

await scenario("an action without the CSRF token is refused", async () => {
  await page.goto(`${ROOT}/admin/`);
  const status = await page.evaluate(async () => {
    const res = await fetch("/admin/reconcile", {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: "csrf=",
    });
    return res.status;
  });
  check(status === 403, `403, got ${status}`);
  // The form itself, its token taken out.
  await page.evaluate(() => document.querySelector("#reconcile input[name=csrf]").remove());
  const [res] = await Promise.all([page.waitForNavigation(), page.click("#reconcile button")]);
  check(res.status() === 403, `403, got ${res.status()}`);
  await page.screenshot({ path: `${SHOTS}/csrf-refused.png`, fullPage: true });
});

await scenario("a reconcile report runs from the overview", async () => {
  await page.goto(`${ROOT}/admin/`);
  await Promise.all([page.waitForNavigation(), page.click("#reconcile button")]);
  await page.waitForSelector("#reconcile-report");
  await page.screenshot({ path: `${SHOTS}/reconcile.png`, fullPage: true });
  await page.goto(`${ROOT}/admin/`);
  check((await page.textContent("#reconcile")).includes("Last run"), "the last run on the overview");
});

await scenario("the pages break no Content-Security-Policy rule", async () => {
  check(cspViolations.length === 0, cspViolations.join("\n"));
});

await scenario("sign-out ends the session", async () => {
  await page.goto(`${ROOT}/admin/`);
  await Promise.all([page.waitForNavigation(), page.click("form.signout button")]);
  check(page.url() === `${ROOT}/admin/login`, `the sign-in form, at ${page.url()}`);
  await page.goto(`${ROOT}/admin/operations`);
  check(page.url() === `${ROOT}/admin/login`, "signed out");
});

await browser.close();
console.log(`passed ${passed} failed ${failed}`);
process.exit(failed === 0 ? 0 : 1);
