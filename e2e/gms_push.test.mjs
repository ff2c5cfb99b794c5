// gms_push.test.mjs: GMS comet push (gms.CometPusher, seed 003 "Chat
// Delayed": _comet_url, channel /_genesys, gms_user on HTTP and CometD)
// against the official CometD JavaScript client (npm "cometd" with
// "cometd-nodejs-client") and Faye, each over long-polling and websocket.
//
//   node --test e2e/gms_push.test.mjs
//
// The server is the real `omniroute serve` (lib/server.mjs: built with `go
// build` unless OMNIROUTE_BIN names the binary, as `go test ./gms/ -run
// TestE2EPush` does) on the configuration below: one chat-delay service and
// one agent, bob. The notifications are the server's own: a device starts a
// callback with _device_os comet (seed 003 step 1), bob becomes READY and is
// held for it (the agent-available notification), and the admin API sends
// internal notifications (agent -> device). Nothing kept for
// retrieve-notifications means the push was delivered. Every test starts its
// own server on its own data directory. Every wait has a timeout.
//
// Identity: long-polling sends the gms_user HTTP header on every request
// (CometD requestHeaders, Faye setHeader); Faye also sends it on its
// websocket upgrade; the CometD client cannot set websocket headers, so on
// websocket it names the user in the handshake's ext.gms_user.
import { test } from "node:test";
import assert from "node:assert/strict";
import { dataDir, omniroute, startOmniroute } from "./lib/server.mjs";
import { waitFor, withTimeout, newCometD as cometdOn, cometdHandshake, newFaye } from "./lib/cometd.mjs";

const USER_A = "b16416334828b1d26ef14f329628b55b5a8c631d8928a371a5584722dd7fb673";
const USER_B = "0000000000000000000000000000000000000000000000000000000000000b0b";
const ADMIN_TOKEN = "e2e-admin-token-0123456789";

const CONFIG = `
auth:
  adminTokens: ["${ADMIN_TOKEN}"]
mrds:
  - {id: chat, name: Chat, interruptible: true, maxRequests: 1}
queues:
  - {id: chat-support, name: Chat Support, mrd: chat, ronaTimeoutSeconds: 30}
agents:
  - {id: bob, name: Bob Brown, capacity: {chat: 1}}
gmsServices:
  - name: chat-delay
    options:
      _media_type: chat
      _wait_for_agent: "true"
      _wait_for_user_confirm: "true"
      _target: "chat-support@StatServer.Q"
    defaultQueue: chat-support
    confirmationSeconds: 60
`;

const binary = omniroute();

// (shared helpers: lib/server.mjs, lib/cometd.mjs)
async function startServer(t) {
  const { url } = await startOmniroute(t, binary(), dataDir(t, CONFIG, { prefix: "omniroute-gms-push-e2e-" }));
  return url;
}

// post sends fields as a form (GMS) or body as JSON (/v1) and resolves
// with {status, body}.
async function post(url, route, { fields, json, method = "POST", headers = {} }) {
  const init = { method, headers: { ...headers }, signal: AbortSignal.timeout(15_000) };
  if (fields) {
    init.headers["content-type"] = "application/x-www-form-urlencoded";
    init.body = new URLSearchParams(fields).toString();
  } else if (json) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(json);
  }
  const res = await fetch(url + route, init);
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

// startCallback is seed 003's start callback of user's device (comet, its
// gms_user as device id); resolves with the callback id.
async function startCallback(url, user) {
  const res = await post(url, "/genesys/1/service/callback/chat-delay", {
    fields: { _customer_number: "4082652649", usr_customer_name: "Bob Markel", _device_os: "comet", _device_notification_id: user },
    headers: { gms_user: user },
  });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(typeof res.body._id, "string");
  return res.body._id;
}

// bobReady makes bob READY: the engine holds him for the first callback.
async function bobReady(url) {
  const res = await post(url, "/v1/agents/bob/state", { method: "PUT", json: { state: "READY" }, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  assert.equal(res.status, 200, JSON.stringify(res.body));
}

// notify sends callback id's device an internal notification (agent ->
// device) with the admin token.
async function notify(url, id, fields) {
  const res = await post(url, `/genesys/1/service/${id}/internal-notification`, { fields, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  assert.equal(res.status, 200, JSON.stringify(res.body));
}

// kept is what the server keeps for the device's retrieve-notifications
// (and forgets): the messages whose push was not delivered.
async function kept(url, id, user) {
  const res = await post(url, `/genesys/1/service/${id}/retrieve-notifications`, { headers: { gms_user: user } });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body;
}

// The seed 003 "Push Notification Data" of the agent-available step
// (without its id, which the server chooses: see bare).
const agentAvailable = (cb) => ({
  message: { _action: "get-dialog-user-confirmation-provide_code-false", _id: cb },
  tag: `service.agentavailable.${cb}`,
});
// An internal-notification (agent -> device) push.
const INTERNAL = { _application_message: "MESSAGE_FOR_MOBILE_APP_INTERNAL_USE", _display_message: "Message to be displayed to user" };
const internal = (cb) => ({
  message: { _internal_message: "MESSAGE_FOR_MOBILE_APP_INTERNAL_USE", _id: cb, _display_message: "Message to be displayed to user" },
  tag: `service.message.${cb}`,
});
const marker = (n, cb) => ({ message: { _internal_message: `marker-${n}`, _id: cb, _display_message: "" }, tag: `service.message.${cb}` });

// bare checks every notification has an id of its own and returns them
// without it.
function bare(notes) {
  const ids = notes.map((n) => n.id);
  assert.ok(ids.every((id) => typeof id === "string" && id.length > 0), JSON.stringify(ids));
  assert.equal(new Set(ids).size, ids.length, "notification ids are distinct");
  return notes.map(({ id, ...rest }) => rest);
}

// ------------------------------------------------------------ CometD client

function newCometD(t, url, transport, user) {
  const requestHeaders = user && transport === "long-polling" ? { gms_user: user } : undefined;
  return cometdOn(t, `${url}/genesys/cometd`, transport, { requestHeaders });
}

function cometdSubscribe(cometd, channel, listener) {
  return withTimeout(`cometd subscribe ${channel}`, new Promise((resolve) => {
    cometd.subscribe(channel, listener, (reply) => resolve(reply));
  }));
}

async function cometdClient(t, url, transport, user) {
  const cometd = newCometD(t, url, transport, user);
  // websocket: the user in the handshake ext (no headers on a CometD websocket).
  await cometdHandshake(cometd, transport === "websocket" ? { ext: { gms_user: user } } : {});
  assert.equal(cometd.getTransport().type, transport);
  const got = [];
  const reply = await cometdSubscribe(cometd, "/_genesys", (m) => {
    assert.equal(m.channel, "/_genesys");
    got.push(m.data);
  });
  assert.equal(reply.successful, true, JSON.stringify(reply));
  return got;
}

// -------------------------------------------------------------- Faye client

async function fayeClient(t, url, transport, user) {
  // gms_user on every HTTP request and the websocket upgrade.
  const client = newFaye(t, `${url}/genesys/cometd`, transport, { gms_user: user });
  const got = [];
  const sub = client.subscribe("/_genesys", (data) => got.push(data));
  await withTimeout("faye subscribe", new Promise((resolve, reject) => sub.then(() => resolve(), reject)));
  if (transport === "websocket") {
    await waitFor("faye switched to websocket", () => client._dispatcher.connectionType === "websocket");
  }
  Object.defineProperty(got, "client", { value: client }); // not enumerable: deepEqual ignores it
  return got;
}

// fayeDisconnect disconnects while the server still runs (a Faye client
// whose server is gone retries for ever and keeps node alive).
async function fayeDisconnect(got) {
  const client = got.client;
  client.disconnect();
  await waitFor("faye /meta/disconnect reply", () => client.incomingLog.some((m) => m.channel === "/meta/disconnect"));
}

// ------------------------------------------------------------------ tests

// deliverAndIsolate makes the server push to A (agent-available,
// internal) and checks A gets both, in order, while B, subscribed the same
// way, gets only its own marker pushed afterwards (so "nothing for B" is
// observed, not assumed); nothing is kept for retrieve-notifications, so
// every push was delivered.
async function deliverAndIsolate(url, gotA, gotB) {
  const cbA = await startCallback(url, USER_A);
  const cbB = await startCallback(url, USER_B);
  await bobReady(url);
  await waitFor("A's agent-available", () => gotA.length === 1);
  await notify(url, cbA, INTERNAL);
  await waitFor("A's notifications", () => gotA.length === 2);
  assert.deepEqual(bare(gotA), [agentAvailable(cbA), internal(cbA)]);
  assert.deepEqual(await kept(url, cbA, USER_A), [], "A's pushes were delivered");

  await notify(url, cbB, { _application_message: "marker-1" });
  await waitFor("B's marker", () => gotB.length === 1);
  assert.deepEqual(bare(gotB), [marker(1, cbB)], "B received nothing of A's");
  assert.deepEqual(await kept(url, cbB, USER_B), [], "B's push was delivered");
  assert.equal(gotA.length, 2, "A received nothing of B's");
}

for (const transport of ["long-polling", "websocket"]) {
  test(`cometd ${transport}: gms_user receives its notifications only`, async (t) => {
    const url = await startServer(t);
    const gotA = await cometdClient(t, url, transport, USER_A);
    const gotB = await cometdClient(t, url, transport, USER_B);
    await deliverAndIsolate(url, gotA, gotB);
  });

  test(`faye ${transport}: gms_user receives its notifications only`, async (t) => {
    const url = await startServer(t);
    const gotA = await fayeClient(t, url, transport, USER_A);
    const gotB = await fayeClient(t, url, transport, USER_B);
    await deliverAndIsolate(url, gotA, gotB);
    await fayeDisconnect(gotA);
    await fayeDisconnect(gotB);
  });
}

test("cometd long-polling: a notification pushed before the client subscribes is kept for it", async (t) => {
  const url = await startServer(t);
  const cb = await startCallback(url, USER_A);
  await bobReady(url);
  // Not delivered (nobody subscribed): the server keeps it for
  // retrieve-notifications, and the pusher keeps it for a later subscriber.
  const held = await waitFor("agent-available kept", async () => {
    const k = await kept(url, cb, USER_A);
    return k.length > 0 && k;
  });
  assert.deepEqual(held, [agentAvailable(cb).message]);
  const gotA = await cometdClient(t, url, "long-polling", USER_A);
  await waitFor("kept notification", () => gotA.length === 1);
  assert.deepEqual(bare(gotA), [agentAvailable(cb)]);
});

for (const transport of ["long-polling", "websocket"]) {
  test(`cometd ${transport}: subscribing without gms_user is refused with 401`, async (t) => {
    const url = await startServer(t);
    const cometd = newCometD(t, url, transport, undefined);
    await cometdHandshake(cometd, {});
    const reply = await cometdSubscribe(cometd, "/_genesys", () => assert.fail("no message expected"));
    assert.equal(reply.successful, false);
    assert.match(reply.error, /^401::/);
  });
}

test("cometd long-polling: clients cannot publish on /_genesys", async (t) => {
  const url = await startServer(t);
  const cometd = newCometD(t, url, "long-polling", USER_A);
  await cometdHandshake(cometd, {});
  const reply = await withTimeout("cometd publish", new Promise((resolve) => {
    cometd.publish("/_genesys", { forged: true }, (r) => resolve(r));
  }));
  assert.equal(reply.successful, false);
  assert.match(reply.error, /^403::/);
});
