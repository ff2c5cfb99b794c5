// gms_push.test.mjs: GMS comet push (gms.CometPusher, seed 003 "Chat
// Delayed": _comet_url, channel /_genesys, gms_user on HTTP and CometD)
// against the official CometD JavaScript client (npm "cometd" with
// "cometd-nodejs-client") and Faye, each over long-polling and websocket.
//
//   node --test e2e/gms_push.test.mjs
//
// The server is gms/internal/pushserver (a test-only Go command: the
// CometPusher at /genesys/cometd, POST /test/push {deviceOS, deviceID,
// notification}). It is built with `go build` into a temporary directory
// unless OMNIROUTE_GMS_PUSHSERVER names a binary already built
// (`go test ./gms/ -run TestE2EPush` does that). Every test starts its own
// server process. Every wait has a timeout.
//
// Identity: long-polling sends the gms_user HTTP header on every request
// (CometD requestHeaders, Faye setHeader); Faye also sends it on its
// websocket upgrade; the CometD client cannot set websocket headers, so on
// websocket it names the user in the handshake's ext.gms_user.
import { test } from "node:test";
import assert from "node:assert/strict";
import { goBinary, startServer as start } from "./lib/server.mjs";
import { waitFor, withTimeout, newCometD as cometdOn, cometdHandshake, newFaye } from "./lib/cometd.mjs";

const USER_A = "b16416334828b1d26ef14f329628b55b5a8c631d8928a371a5584722dd7fb673";
const USER_B = "0000000000000000000000000000000000000000000000000000000000000b0b";
const CALLBACK_ID = "369-166652d2-aed6-443c-9781-6bdff370f9a9";

const binary = goBinary({ env: "OMNIROUTE_GMS_PUSHSERVER", pkg: "./gms/internal/pushserver", prefix: "omniroute-gms-push-e2e-", name: "pushserver" });

// (shared helpers: lib/server.mjs, lib/cometd.mjs)
const startServer = (t) => start(t, binary(), [], "pushserver");

async function push(url, deviceID, notification) {
  const res = await fetch(`${url}/test/push`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ deviceOS: "comet", deviceID, notification }),
  });
  assert.equal(res.status, 200);
  return res.json();
}

// The seed 003 "Push Notification Data" of the agent-available step.
const agentAvailable = {
  id: "01afcd60258a11e300006072543ed1ff",
  message: { _action: "get-dialog-user-confirmation-provide_code-false", _id: CALLBACK_ID },
  tag: `service.agentavailable.${CALLBACK_ID}`,
};
// An internal-notification (agent -> device) push.
const internal = {
  id: "02afcd60258a11e300006072543ed1ff",
  message: {
    _internal_message: "MESSAGE_FOR_MOBILE_APP_INTERNAL_USE",
    _id: CALLBACK_ID,
    _display_message: "Message to be displayed to user",
  },
  tag: `service.message.${CALLBACK_ID}`,
};
const marker = (n) => ({ id: `marker-${n}`, message: { n }, tag: "test.marker" });

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

// deliverAndIsolate pushes to A (agent-available, internal) and checks A
// gets both, in order, while B, subscribed the same way, gets only its own
// marker pushed afterwards (so "nothing for B" is observed, not assumed).
async function deliverAndIsolate(url, gotA, gotB) {
  assert.equal((await push(url, USER_A, agentAvailable)).delivered, true);
  assert.equal((await push(url, USER_A, internal)).delivered, true);
  await waitFor("A's notifications", () => gotA.length === 2);
  assert.deepEqual(gotA, [agentAvailable, internal]);

  assert.equal((await push(url, USER_B, marker(1))).delivered, true);
  await waitFor("B's marker", () => gotB.length === 1);
  assert.deepEqual(gotB, [marker(1)], "B received nothing of A's");
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
  const res = await push(url, USER_A, agentAvailable);
  assert.equal(res.delivered, false);
  assert.equal(res.pending, true);
  const gotA = await cometdClient(t, url, "long-polling", USER_A);
  await waitFor("kept notification", () => gotA.length === 1);
  assert.deepEqual(gotA, [agentAvailable]);
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
