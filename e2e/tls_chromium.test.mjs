// tls_chromium.test.mjs: Chromium over TLS. The Go launcher
// (server.TestTLSChromiumE2E) makes a test CA (internal/testca) and passes
// the server's certificate and key (OMNIROUTE_TLS_CERT/KEY), the SPKI
// hash of that certificate's key (OMNIROUTE_TLS_SPKI), and the CA in
// NODE_EXTRA_CA_CERTS for this file's own fetch. `omniroute serve
// --tls-cert --tls-key` (the real binary, OMNIROUTE_BIN) serves HTTPS only;
// Debian's headless /usr/bin/chromium (playwright-core, as webui.test.mjs)
// opens the agent desk over https, signs alice in and connects the desk's
// Socket.IO, upgraded to a websocket over wss.
//
// How Chromium trusts the test CA: --ignore-certificate-errors-spki-list
// with the server key's SPKI hash. Chromium then accepts exactly a chain
// holding that key and still refuses every other certificate error; it
// needs no certutil (libnss3-tools) and writes no NSS database under
// $HOME, which an NSS db would. A browser launched without the flag is
// refused (ERR_CERT_AUTHORITY_INVALID), so the flag is what lets it in.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { chromium } from "playwright-core";
import { dataDir, startOmniroute } from "./lib/server.mjs";

const bin = process.env.OMNIROUTE_BIN;
const cert = process.env.OMNIROUTE_TLS_CERT;
const key = process.env.OMNIROUTE_TLS_KEY;
const spki = process.env.OMNIROUTE_TLS_SPKI;
const chromiumPath = process.env.CHROMIUM || "/usr/bin/chromium";
const STEP_MS = 20_000; // generous: the machine may be loaded; a pass never waits for it

const skip = !(bin && cert && spki) ? "not launched by server.TestTLSChromiumE2E"
  : !existsSync(chromiumPath) ? `${chromiumPath} missing (Debian package chromium)` : false;

const browsers = [];
after(async () => {
  for (const b of browsers) await b.close();
});

// until polls cond until it is truthy (resolving with its value) or
// STEP_MS passed (rejecting with what()).
async function until(cond, what) {
  const deadline = Date.now() + STEP_MS;
  for (;;) {
    const v = cond();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(what());
    await new Promise((r) => setTimeout(r, 50));
  }
}

function launch(extraArgs = []) {
  return chromium.launch({
    executablePath: chromiumPath,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync", ...extraArgs],
  }).then((b) => (browsers.push(b), b));
}

test("TLS: Chromium trusts the test certificate, logs in and connects the desk over wss", { skip, timeout: 180_000 }, async (t) => {
  const { url } = await startOmniroute(t, bin, dataDir(t, undefined, { prefix: "omniroute-tls-chromium-" }),
    { args: ["--tls-cert", cert, "--tls-key", key] });
  assert.match(url, /^https:\/\//);

  // Without the pinned key the certificate is refused.
  const untrusting = await launch();
  const refused = await untrusting.newPage();
  await assert.rejects(refused.goto(`${url}/desk`), /ERR_CERT_AUTHORITY_INVALID/, "a browser that does not trust the test CA");

  const browser = await launch([`--ignore-certificate-errors-spki-list=${spki}`]);
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 720 } });
  t.after(() => ctx.close());
  const page = await ctx.newPage();
  page.setDefaultTimeout(STEP_MS);
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  // The desk's Socket.IO websocket: its URL and frames.
  const sockets = [];
  page.on("websocket", (ws) => {
    const s = { url: ws.url(), sent: [], received: [] };
    ws.on("framesent", (f) => s.sent.push(String(f.payload)));
    ws.on("framereceived", (f) => s.received.push(String(f.payload)));
    sockets.push(s);
  });
  const res = await page.goto(`${url}/desk`);
  assert.equal(res.status(), 200);
  assert.equal(new URL(page.url()).protocol, "https:");
  assert.equal(await page.evaluate(() => window.isSecureContext), true, "the page is a secure context");

  await page.fill("#login input[name=username]", "alice");
  await page.fill("#login input[name=password]", "alice-pass");
  await page.click("#login button[type=submit]");
  await page.waitForFunction(() => document.getElementById("conn").textContent === "connected");

  // Engine.IO upgrades polling to a websocket: the probe answered over
  // wss and the upgrade ("5") sent.
  const ws = await until(() => sockets.find((s) => s.url.includes("/socket.io/") && s.sent.includes("5")),
    () => `no upgraded websocket; seen ${JSON.stringify(sockets)}`);
  assert.equal(new URL(ws.url).protocol, "wss:", ws.url);
  assert.ok(ws.received.includes("3probe"), JSON.stringify(ws.received));

  // An event after the upgrade comes over wss: an admin sets alice READY
  // and the desk shows it.
  const before = ws.received.length;
  const put = await fetch(`${url}/v1/agents/alice/state`, { method: "PUT", body: JSON.stringify({ state: "READY" }),
    headers: { authorization: "Bearer dev-admin-token", "content-type": "application/json" } });
  assert.equal(put.status, 200, await put.text());
  await page.waitForFunction(() => document.getElementById("state").textContent.includes("READY"));
  await until(() => ws.received.slice(before).some((f) => f.startsWith("42") && f.includes("agentPresence")),
    () => `no agentPresence over wss; frames ${JSON.stringify(ws.received.slice(before))}`);
  assert.deepEqual(errors, []);
});
