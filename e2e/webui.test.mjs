// webui.test.mjs: omniroute's web pages (package webui) in headless Chromium
// (playwright-core, Debian /usr/bin/chromium) against the real server
// (`omniroute serve` with its embedded NATS JetStream and CONFIG below):
// a supervisor's wallboard, agents' /desk pages and customers' /chat pages,
// all real browser pages talking to the server over its real protocols
// (Socket.IO for the desks and the supervisor, SSE for the wallboard and the
// customers).
//
//   node --test e2e/webui.test.mjs
//
// The server binary is built here unless OMNIROUTE_BIN names it (as
// `go test ./webui -run TestBrowser` does). Every test starts its own
// server. Every wait has a timeout; nothing
// sleeps to assert.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { dataDir, omniroute, startOmniroute } from "./lib/server.mjs";

const STEP_MS = 20_000; // generous: the machine may be loaded; a pass never waits for it
const ADMIN = "webui-e2e-admin-token-0123456789";
const binary = omniroute();

// The contact center: one chat MRD, two sales/support queues and one with
// a 2 s RONA for dan; agents alice and bob (team-a), dan (team-b) and the
// supervisor sam (team-a).
const CONFIG = `
auth:
  adminTokens: ["${ADMIN}"]
mrds:
  - {id: chat, name: Chat, interruptible: true, maxRequests: 2}
reasonCodes:
  - {id: lunch, name: Lunch, type: NOT_READY}
queues:
  - {id: chat-sales, name: Chat - Sales, mrd: chat, ronaTimeoutSeconds: 30, serviceLevelSeconds: 30, wrapUpSeconds: 60}
  - {id: chat-support, name: Chat - Support, mrd: chat, ronaTimeoutSeconds: 30}
  - {id: chat-rona, name: Chat - RONA, mrd: chat, ronaTimeoutSeconds: 2, members: [dan]}
agents:
  - {id: alice, name: Alice Adams, teams: [team-a], username: alice, password: alice-pass}
  - {id: bob, name: Bob Brown, teams: [team-a], username: bob, password: bob-pass}
  - {id: dan, name: Dan Dale, teams: [team-b], username: dan, password: dan-pass}
  - {id: sam, name: Sam Supervisor, role: supervisor, teams: [team-a], capacity: {chat: 0}, username: sam, password: sam-pass}
`;

// startServer starts a server for test t on a fresh data directory and
// resolves with its URL.
async function startServer(t) {
  const { url } = await startOmniroute(t, binary(), dataDir(t, CONFIG, { prefix: "omniroute-webui-e2e-" }));
  return url;
}
let browser;

before(async () => {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}, { timeout: 60_000 });
after(async () => { if (browser) await browser.close(); });

// page opens url in a fresh browser context (its own sessionStorage) at
// 1280x720, failing the test on any page error or request to another host.
async function open(t, url) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 720 } });
  t.after(() => ctx.close());
  const page = await ctx.newPage();
  page.setDefaultTimeout(STEP_MS);
  page.errors = [];
  page.on("pageerror", (e) => page.errors.push(e.message));
  const origin = new URL(url).origin;
  page.on("request", (r) => {
    if (!r.url().startsWith(origin) && !r.url().startsWith("data:")) page.errors.push("external request " + r.url());
  });
  await page.goto(url);
  return page;
}

async function signIn(page, user) {
  await page.fill("#login input[name=username]", user);
  await page.fill("#login input[name=password]", user + "-pass");
  await page.click("#login button[type=submit]");
}

async function desk(t, url, agent) {
  const page = await open(t, url + "/desk");
  await signIn(page, agent);
  await page.waitForFunction(() => document.getElementById("conn").textContent === "connected");
  await page.waitForFunction(() => document.getElementById("state").textContent !== "–");
  return page;
}

async function customer(t, url, queue, name) {
  const page = await open(t, `${url}/chat/${queue}`);
  await page.fill("#start input[name=name]", name);
  await page.click("#start button[type=submit]");
  await page.waitForSelector("#chat:not([hidden])");
  return page;
}

async function stats(url, queue) {
  const r = await fetch(`${url}/v1/queues/${queue}/stats`, { headers: { Authorization: "Bearer " + ADMIN } });
  assert.equal(r.status, 200);
  return r.json();
}

// boardEquals waits until the wallboard row of queue shows exactly the
// figures of GET /v1/queues/{id}/stats, once those satisfy ready (the
// state the caller waits for: a click's command may still be on its way
// when the stats are first read). Stats and board are read again until
// they agree, so a change between the two reads is waited out.
async function boardEquals(page, url, queue, ready = () => true) {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const s = await stats(url, queue);
    const want = {
      waiting: String(s.waiting), offered: String(s.offered), answered: String(s.answered), abandoned: String(s.abandoned),
      available: `${s.availableAgents} / `, sl: (s.serviceLevel * 100).toFixed(1) + " %",
    };
    const last = Date.now() > deadline;
    if (!ready(s) && !last) {
      await new Promise((r) => setTimeout(r, 100));
      continue;
    }
    try {
      await page.waitForFunction(([q, w]) => {
        const row = document.querySelector(`#queues tr[data-queue="${q}"]`);
        if (!row) return false;
        const cell = (f) => row.querySelector(`[data-field=${f}]`).textContent;
        return cell("waiting") === w.waiting && cell("offered") === w.offered && cell("answered") === w.answered &&
          cell("abandoned") === w.abandoned && cell("available").startsWith(w.available) && cell("sl") === w.sl;
      }, [queue, want], { timeout: last ? 20_000 : 3_000 });
      return s;
    } catch (e) {
      if (!last) continue;
      const row = await page.locator(`#queues tr[data-queue="${queue}"]`).innerText().catch(() => "(no row)");
      throw new Error(`wallboard ${queue} is "${row}", stats ${JSON.stringify(s)}: ${e.message}`);
    }
  }
}

// unlabeled lists the visible form controls and buttons of page without an
// accessible name (a <label>, aria-label, or text for buttons).
const unlabeled = (page) => page.evaluate(() => [...document.querySelectorAll("input, select, textarea, button")]
  .filter((e) => e.type !== "hidden" && e.offsetParent !== null)
  .filter((e) => !(e.labels?.length || e.getAttribute("aria-label") || (e.tagName === "BUTTON" && e.textContent.trim())))
  .map((e) => e.outerHTML.slice(0, 80)));

const logHas = (page, sel, text) => page.waitForFunction(([s, x]) => [...document.querySelectorAll(s)].some((li) => li.textContent.includes(x)), [sel, text]);

async function acceptOffer(page) {
  await page.locator(".offer button").first().click();
}

test("a supervisor watches a queue fill and drain while agents and customers work in real pages", { timeout: 180_000 }, async (t) => {
  const url = await startServer(t);
  const board = await open(t, url + "/");
  await signIn(board, "sam");
  await board.waitForSelector("body[data-state=live]");
  const alice = await desk(t, url, "alice");
  const bob = await desk(t, url, "bob");

  // Fill: three customers, no agent ready.
  const c1 = await customer(t, url, "chat-sales", "Ada");
  const c2 = await customer(t, url, "chat-sales", "Bea");
  const c3 = await customer(t, url, "chat-sales", "Cy");
  await c3.waitForFunction(() => document.getElementById("wait").textContent.includes("number 3"));
  const full = await boardEquals(board, url, "chat-sales", (s) => s.waiting === 3);
  assert.equal(full.waiting, 3);

  // Drain: alice takes two (her capacity), bob the third.
  await alice.click("#ready");
  await alice.waitForFunction(() => document.querySelectorAll(".offer").length === 2);
  await acceptOffer(alice);
  await acceptOffer(alice);
  await bob.click("#ready");
  await acceptOffer(bob);
  await c1.waitForFunction(() => document.getElementById("wait").textContent.includes("agent joined"));
  const drained = await boardEquals(board, url, "chat-sales", (s) => s.answered === 3);
  assert.equal(drained.waiting, 0);
  assert.equal(drained.answered, 3);

  // Chat both ways: alice answers Ada.
  const conv1 = await alice.evaluate(() => document.getElementById("conv").options[0].value);
  await alice.selectOption("#conv", conv1);
  await alice.fill("#text", "Hello Ada, how can I help?");
  await alice.click("#reply button[type=submit]");
  await logHas(c1, "#log li", "Hello Ada, how can I help?");
  await c1.fill("#text", "My card is blocked");
  await c1.click("#send button[type=submit]");
  await logHas(alice, "#log li", "My card is blocked");

  // The supervisor monitors alice's conversation with Ada, whispers, barges in.
  // The live conversations table lists it under alice, with the actions.
  const convRow = board.locator(`#conversations tr[data-conversation="${conv1}"][data-agent=alice]`);
  await convRow.waitFor();
  assert.match(await convRow.innerText(), /chat-sales[\s\S]*ACTIVE/);
  await board.locator(`#agents tr[data-agent=alice] button[aria-label$="${conv1}"]`).click();
  await board.waitForFunction(() => document.getElementById("m-role").textContent.includes("SILENT_MONITOR"));
  await logHas(board, "#m-log li", "My card is blocked");
  await board.waitForFunction((c) => document.querySelector(`#conversations tr[data-conversation="${c}"][data-agent=alice] [data-field=supervisors]`)
    ?.textContent.includes("sam: SILENT_MONITOR"), conv1);
  await convRow.getByRole("button", { name: `Whisper conversation ${conv1} of alice` }).click();
  await board.waitForFunction(() => document.getElementById("m-role").textContent.includes("WHISPER"));
  await board.fill("#m-text", "Offer the card replacement");
  await board.click("#m-send");
  await alice.waitForSelector("#log li.whisper");
  await logHas(alice, "#log li.whisper", "Offer the card replacement");
  await convRow.getByRole("button", { name: `Barge in conversation ${conv1} of alice` }).click();
  await board.waitForFunction(() => document.getElementById("m-role").textContent.includes("BARGE_IN"));
  await board.fill("#m-text", "Sam here, a supervisor: we will fix it");
  await board.click("#m-send");
  await logHas(c1, "#log li", "Sam here, a supervisor");
  const customerText = await c1.locator("#log").innerText();
  assert.ok(!customerText.includes("Offer the card replacement"), "the whisper reached the customer: " + customerText);

  // alice transfers Bea's conversation to chat-support; bob takes it.
  const conv2 = await alice.evaluate((c) => [...document.getElementById("conv").options].map((o) => o.value).find((v) => v !== c), conv1);
  await alice.selectOption("#conv", conv2);
  await alice.selectOption("#queue", "chat-support");
  await alice.click("#transfer");
  await bob.waitForSelector(".offer");
  await acceptOffer(bob);
  await alice.waitForFunction(() => document.getElementById("notice").textContent.includes("Transferred"));
  await bob.waitForFunction((c) => [...document.getElementById("conv").options].some((o) => o.value === c), conv2);

  // alice leaves Ada's conversation and wraps up.
  await alice.selectOption("#conv", conv1);
  await alice.click("#leave");
  await alice.waitForSelector("#wrapup:not([hidden])");
  await alice.click("#wrapup-done");
  await board.waitForFunction(() => {
    const row = document.querySelector("#agents tr[data-agent=alice]");
    return row && !row.querySelector("[data-field=tasks]").textContent.includes("chat-sales");
  });
  await boardEquals(board, url, "chat-sales");
  await boardEquals(board, url, "chat-support");
  for (const p of [board, alice, bob, c1, c2, c3]) {
    assert.deepEqual(p.errors, []);
    assert.deepEqual(await unlabeled(p), []);
  }
});

test("a RONA shows on the desk and on the wallboard", { timeout: 60_000 }, async (t) => {
  const url = await startServer(t);
  const dan = await desk(t, url, "dan");
  const board = await open(t, url + "/");
  await board.fill("#login input[name=token]", ADMIN);
  await board.click("#login button[type=submit]");
  await board.waitForSelector("body[data-state=live]");
  await dan.click("#ready");
  await dan.waitForFunction(() => document.getElementById("state").textContent === "READY");
  await customer(t, url, "chat-rona", "Dee");
  await dan.waitForSelector(".offer [data-testid=rona]");
  await dan.waitForFunction(() => document.getElementById("notice").textContent.includes("RONA"));
  await dan.waitForFunction(() => document.getElementById("state").textContent.startsWith("NOT_READY"));
  assert.equal(await dan.locator(".offer").count(), 0);
  await board.waitForFunction(() => document.querySelector("#agents tr[data-agent=dan] [data-field=state]")?.textContent === "NOT_READY (RONA)");
});

test("an agent token cannot open the supervisor view", { timeout: 60_000 }, async (t) => {
  const url = await startServer(t);
  const page = await open(t, url + "/");
  // Keyboard only: the form focuses the username; Tab, type, Enter.
  await page.waitForFunction(() => document.activeElement?.name === "username");
  await page.keyboard.type("alice");
  await page.keyboard.press("Tab");
  await page.keyboard.type("alice-pass");
  await page.keyboard.press("Enter");
  await page.waitForSelector("body[data-state=forbidden]");
  assert.equal(await page.locator("#board").isHidden(), true);
  const status = await page.evaluate(async () => (await fetch("/ui/api/board", { headers: { Authorization: "Bearer " + sessionStorage.getItem("omniroute.token") } })).status);
  assert.equal(status, 403);
  const reports = await page.evaluate(async () => (await fetch("/v1/reports/queues", { headers: { Authorization: "Bearer " + sessionStorage.getItem("omniroute.token") } })).status);
  assert.equal(reports, 403);
  // The same agent's desk works.
  const d = await desk(t, url, "alice");
  assert.equal(await d.locator("#desk").isVisible(), true);
});

// run starts the server for test t on data dir dir; stop() ends it
// gracefully (SIGTERM, its last history write) and resolves when it exited.
function run(t, dir) {
  return startOmniroute(t, binary(), dir);
}

async function rest(url, method, p, body, token = ADMIN) {
  const r = await fetch(url + p, { method, headers: { Authorization: "Bearer " + token, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  assert.ok(r.ok, `${method} ${p}: ${r.status} ${text}`);
  return text && r.headers.get("content-type")?.startsWith("application/json") ? JSON.parse(text) : text;
}

test("the history page and CSV hold the 15-minute intervals, and a restart keeps them", { timeout: 120_000 }, async (t) => {
  const dir = dataDir(t, CONFIG, { prefix: "omniroute-webui-history-" });
  let srv = await run(t, dir);
  const alice = (await rest(srv.url, "POST", "/agent-manager/agent/login", { username: "alice", password: "alice-pass" })).data.token;
  await rest(srv.url, "PUT", "/v1/agents/alice/state", { state: "READY" }, alice);
  const answered = await rest(srv.url, "POST", "/v1/conversations", { queue: "chat-sales" });
  const tasks = (await rest(srv.url, "GET", "/v1/tasks?agent=alice", undefined, alice)).items;
  assert.equal(tasks.length, 1);
  await rest(srv.url, "POST", `/v1/tasks/${tasks[0].id}/accept`, undefined, alice);
  await rest(srv.url, "PUT", "/v1/agents/alice/state", { state: "NOT_READY" }, alice);
  const left = await rest(srv.url, "POST", "/v1/conversations", { queue: "chat-sales" });
  await rest(srv.url, "POST", `/v1/conversations/${left.id}/abandon`);
  assert.ok(answered.id);
  const before = await rest(srv.url, "GET", "/v1/reports/queues?queue=chat-sales&format=csv");
  assert.match(before, /,chat-sales,2,1,1,0,/);

  await srv.stop();
  srv = await run(t, dir);
  const after = await rest(srv.url, "GET", "/v1/reports/queues?queue=chat-sales&format=csv");
  assert.equal(after, before);

  const page = await open(t, srv.url + "/history");
  await signIn(page, "sam");
  await page.waitForSelector("body[data-state=loaded]");
  const row = await page.locator("#intervals tbody tr", { hasText: "chat-sales" }).first().innerText();
  assert.match(row, /chat-sales\s+2\s+1\s+1\s/);
  assert.match(await page.locator("#total").innerText(), /offered 2, answered 1, abandoned 1/);
  assert.ok(await page.locator("#chart canvas").count() > 0, "no chart");
  const agents = await page.locator("#agents tbody").innerText();
  assert.match(agents, /alice/);
  assert.deepEqual(page.errors, []);
  assert.deepEqual(await unlabeled(page), []);
});
