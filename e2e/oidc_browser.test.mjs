// oidc_browser.test.mjs: "Sign in with <issuer>" on omniroute's own pages,
// end to end in a real browser. A real OpenID provider (npm oidc-provider,
// its development login and consent forms) and `omniroute serve` (the real
// binary, OMNIROUTE_BIN, or built here) configured with the provider as an
// issuer with browserLogin; Debian Chromium through playwright-core opens
// /desk, clicks the issuer's button, fills the provider's forms and lands
// back on /desk signed in as the mapped agent, connected over Socket.IO (the
// page made the PKCE verifier, challenge and state; omniroute exchanged the
// code). A tampered state is refused on the callback page, nothing kept.
//
//   OMNIROUTE_BIN=... node --test e2e/oidc_browser.test.mjs
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { chromium } from "playwright-core";
import { startProvider, signingKey, CLIENT_ID } from "./lib/oidc.mjs";
import { dataDir, omniroute, startOmniroute } from "./lib/server.mjs";

const STEP_MS = 30_000; // generous: the machine may be loaded; a pass never waits for it
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const skip = !existsSync(CHROMIUM) && `${CHROMIUM} missing (apt-get install chromium)`;
const binary = omniroute();
const roles = { alice: ["agent"], mallory: ["visitor"] };

let browser;
before(async () => {
  if (skip) return;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}, { timeout: 60_000 });
after(async () => { if (browser) await browser.close(); });

// setup starts the provider and omniroute (issuer with browserLogin, name
// "Company SSO"; agents alice and mallory) and registers omniroute's
// callback at the provider. Resolves with {idp, url}.
async function setup(t) {
  const idp = await startProvider(t, roles, [signingKey("browser")]);
  const { url } = await startOmniroute(t, binary(), dataDir(t, `
auth:
  oidc:
    - issuer: "${idp.issuer}"
      audience: ${CLIENT_ID}
      agentRoles: [agent]
      browserLogin: true
      name: Company SSO
mrds: [{id: chat, name: Chat, maxRequests: 2}]
queues: [{id: support, name: Support, mrd: chat}]
agents:
  - {id: alice, name: Alice Adams}
  - {id: mallory, name: Mallory}
`, { prefix: "omniroute-oidc-browser-" }));
  idp.allowRedirect(url + "/ui/oidc/callback");
  return { idp, url };
}

// open opens url in a fresh browser context (its own sessionStorage and
// provider session), recording page errors and any request an omniroute
// page makes to another host. Requests to hosts other than omniroute and
// the issuer are aborted (the provider's development pages import a web
// font; that is the provider's, not ours).
async function open(t, url, issuer) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 720 } });
  t.after(() => ctx.close());
  const origin = new URL(url).origin;
  const allowed = [origin, new URL(issuer).origin];
  await ctx.route("**", (route) => (allowed.some((o) => route.request().url().startsWith(o + "/")) ? route.continue() : route.abort()));
  const page = await ctx.newPage();
  page.setDefaultTimeout(STEP_MS);
  page.errors = [];
  page.on("pageerror", (e) => page.errors.push(e.message));
  page.on("request", (r) => {
    const from = r.frame()?.url() ?? "";
    if (from.startsWith(origin + "/") && !r.isNavigationRequest() && !r.url().startsWith(origin + "/") && !r.url().startsWith("data:")) {
      page.errors.push("external request " + r.url());
    }
  });
  await page.goto(url);
  return page;
}

// providerLogin fills oidc-provider's development login form as user, then
// its consent form.
async function providerLogin(page, issuer, user) {
  await page.waitForURL((u) => u.href.startsWith(issuer + "/"));
  await page.fill("input[name=login]", user);
  await page.fill("input[name=password]", "any");
  await page.click("button[type=submit]");
  await page.waitForSelector("input[name=prompt][value=consent]", { state: "attached" }); // the consent form
  await page.click("button[type=submit]");
}

const kept = (page) => page.evaluate(() => ({ token: sessionStorage.getItem("omniroute.token"), pending: sessionStorage.getItem("omniroute.oidc") }));

test("browser sign-in with the OpenID issuer: code flow with PKCE to the desk", { skip }, async (t) => {
  const { idp, url } = await setup(t);
  const page = await open(t, url + "/desk", idp.issuer);
  const authRequest = page.waitForRequest((r) => r.url().startsWith(idp.issuer + "/auth?"));
  await page.getByRole("button", { name: "Sign in with Company SSO" }).click();

  // At the provider: the page asked for a code with PKCE S256 and a state.
  const asked = new URL((await authRequest).url()).searchParams;
  assert.deepEqual(
    { response_type: asked.get("response_type"), client_id: asked.get("client_id"), redirect_uri: asked.get("redirect_uri"),
      scope: asked.get("scope"), method: asked.get("code_challenge_method") },
    { response_type: "code", client_id: CLIENT_ID, redirect_uri: url + "/ui/oidc/callback", scope: "openid profile", method: "S256" });
  assert.match(asked.get("code_challenge"), /^[A-Za-z0-9_-]{43}$/);
  assert.match(asked.get("state"), /^[A-Za-z0-9_-]{22}$/);
  await providerLogin(page, idp.issuer, "alice");

  // Back on /desk, signed in as alice, the desk connected over Socket.IO.
  await page.waitForURL(url + "/desk");
  await page.waitForFunction(() => document.getElementById("conn").textContent === "connected");
  await page.waitForFunction(() => document.getElementById("state").textContent !== "–");
  assert.equal(await page.textContent("#who"), "Alice Adams");
  const { token, pending: left } = await kept(page);
  assert.equal(left, null, "the pending sign-in is removed");
  const claims = JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString());
  assert.deepEqual({ iss: claims.iss, aud: claims.aud, who: claims.preferred_username }, { iss: idp.issuer, aud: CLIENT_ID, who: "alice" });
  const me = await fetch(url + "/v1/me", { headers: { authorization: "Bearer " + token } });
  assert.equal(me.status, 200);
  assert.deepEqual(page.errors, []);
});

test("browser sign-in refusals: a tampered state, a replayed answer, a user without the agent role", { skip }, async (t) => {
  const { idp, url } = await setup(t);
  const page = await open(t, url + "/desk", idp.issuer);

  // The provider's answer is held back (the callback page's script not
  // served, so the code is not exchanged; a redirect's target cannot be
  // routed itself), then loaded with another state: refused on the page,
  // nothing kept.
  await page.route(url + "/ui/callback.js", (route) => route.fulfill({ status: 200, contentType: "text/javascript", body: "" }));
  await page.getByRole("button", { name: "Sign in with Company SSO" }).click();
  await providerLogin(page, idp.issuer, "alice");
  await page.waitForURL((u) => u.href.startsWith(url + "/ui/oidc/callback?"));
  const answer = new URL(page.url());
  assert.ok(answer.searchParams.get("code"), "the provider answered with a code");
  assert.ok((await kept(page)).pending, "the pending sign-in is still there");
  await page.unroute(url + "/ui/callback.js");
  const tampered = new URL(answer);
  tampered.searchParams.set("state", answer.searchParams.get("state") + "x");
  await page.goto(tampered.href);
  await page.waitForFunction(() => document.getElementById("status").textContent.startsWith("Sign-in failed"));
  assert.match(await page.textContent("#status"), /state mismatch/);
  assert.deepEqual(await kept(page), { token: null, pending: null });
  assert.equal(await page.getAttribute("#back", "href"), "/desk");

  // The genuine answer afterwards: the pending sign-in is gone, refused.
  await page.goto(answer.href);
  await page.waitForFunction(() => document.getElementById("status").textContent.startsWith("Sign-in failed"));
  assert.match(await page.textContent("#status"), /no sign-in was started in this tab/);
  assert.deepEqual(await kept(page), { token: null, pending: null });

  assert.deepEqual(page.errors, []);

  // A user of the provider without the agent role (a fresh browser, no
  // provider session): the code is exchanged, omniroute refuses the
  // token, the page says so and keeps nothing.
  const other = await open(t, url + "/desk", idp.issuer);
  await other.getByRole("button", { name: "Sign in with Company SSO" }).click();
  await providerLogin(other, idp.issuer, "mallory");
  await other.waitForURL((u) => u.href.startsWith(url + "/ui/oidc/callback"));
  await other.waitForFunction(() => document.getElementById("status").textContent.startsWith("Sign-in failed"));
  assert.match(await other.textContent("#status"), /UNAUTHORIZED/);
  assert.deepEqual(await kept(other), { token: null, pending: null });
  assert.deepEqual(other.errors, []);
});
