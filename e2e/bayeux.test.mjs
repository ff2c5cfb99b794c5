// bayeux.test.mjs: omniroute's CometD/Bayeux server (package bayeux)
// against the official CometD JavaScript client (npm "cometd" with
// "cometd-nodejs-client", which provides XMLHttpRequest and WebSocket to
// Node) and Faye (Faye.Client), each over long-polling and websocket.
//
//   node --test e2e/bayeux.test.mjs
//
// The server is bayeux/internal/e2eserver (a test-only Go command: Bayeux at
// /cometd, POST /test/publish {channel,data}, POST /test/drop-next {match},
// GET /test/stats). It is built with `go build` into a temporary directory
// unless OMNIROUTE_BAYEUX_E2ESERVER names a binary already built
// (`go test ./bayeux/ -run TestE2E` does that). Every test starts its own
// server process, so tests share no state. Every wait has a timeout;
// nothing sleeps to assert.
import { test } from "node:test";
import assert from "node:assert/strict";
import { goBinary, startServer as start } from "./lib/server.mjs";
import { waitFor, withTimeout, newCometD as cometdClient, cometdHandshake, newFaye as fayeClient } from "./lib/cometd.mjs";

const binary = goBinary({ env: "OMNIROUTE_BAYEUX_E2ESERVER", pkg: "./bayeux/internal/e2eserver", prefix: "omniroute-bayeux-e2e-" });

// ---------------------------------------------------------------- helpers
// (shared ones: lib/server.mjs, lib/cometd.mjs: waitFor, withTimeout,
// cometdHandshake, and the CometD and Faye clients)

// startServer starts an e2eserver for test t and resolves with its URL.
const startServer = (t) => start(t, binary());

async function publish(url, channel, data) {
  const res = await fetch(`${url}/test/publish`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ channel, data }),
  });
  assert.equal(res.status, 200, await res.clone().text());
  return (await res.json()).delivered;
}

async function dropNext(url, match) {
  const res = await fetch(`${url}/test/drop-next`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ match }),
  });
  assert.equal(res.status, 204);
}

async function stats(url) {
  const res = await fetch(`${url}/test/stats`);
  assert.equal(res.status, 200);
  return res.json();
}

// ------------------------------------------------------------ CometD client

// newCometD returns a CometD client restricted to one transport.
function newCometD(t, url, transport, { ack = false, headers } = {}) {
  return cometdClient(t, `${url}/cometd`, transport, { checkTransport: true, ack, requestHeaders: headers });
}

function cometdSubscribe(cometd, channel, listener) {
  return withTimeout(`cometd subscribe ${channel}`, new Promise((resolve, reject) => {
    const sub = cometd.subscribe(channel, listener, (reply) => (reply.successful ? resolve(sub) : reject(new Error(JSON.stringify(reply)))));
  }));
}

function cometdUnsubscribe(cometd, sub) {
  return withTimeout("cometd unsubscribe", new Promise((resolve, reject) => {
    cometd.unsubscribe(sub, (reply) => (reply.successful ? resolve(reply) : reject(new Error(JSON.stringify(reply)))));
  }));
}

function cometdDisconnect(cometd) {
  return withTimeout("cometd disconnect", new Promise((resolve, reject) => {
    cometd.disconnect((reply) => (reply.successful ? resolve(reply) : reject(new Error(JSON.stringify(reply)))));
  }));
}

// -------------------------------------------------------------- Faye client

// newFaye returns a Faye client restricted to one transport for the
// connect loop (Faye always handshakes over long-polling and then switches
// to the best transport the server offers) and records every incoming
// message, meta replies included.
const newFaye = (t, url, transport) => fayeClient(t, `${url}/cometd`, transport);

// fayeSubscribe subscribes and resolves with the Faye Subscription (wrapped:
// a Subscription is itself a thenable, and resolving a promise with it would
// adopt it forever) once the server confirmed it.
function fayeSubscribe(client, channel, listener) {
  const sub = client.subscribe(channel, listener);
  return withTimeout(`faye subscribe ${channel}`, new Promise((resolve, reject) => {
    sub.then(() => resolve({ sub }), reject);
  }));
}

function fayeReply(client, channel) {
  return waitFor(`faye ${channel} reply`, () => client.incomingLog.find((m) => m.channel === channel && m.successful !== undefined));
}

// ------------------------------------------------------------------ tests

for (const transport of ["long-polling", "websocket"]) {
  test(`cometd ${transport}: handshake, subscribe, receive, unsubscribe, disconnect`, async (t) => {
    const url = await startServer(t);
    const cometd = newCometD(t, url, transport);
    const hs = await cometdHandshake(cometd);
    assert.equal(hs.version, "1.0");
    assert.ok(hs.supportedConnectionTypes.includes(transport));
    assert.match(cometd.getClientId(), /^[0-9a-f]{32}$/);
    assert.equal(cometd.getTransport().type, transport);

    const got = [];
    const sub = await cometdSubscribe(cometd, "/_genesys", (m) => got.push(m));
    const wild = [];
    await cometdSubscribe(cometd, "/queue/**", (m) => wild.push(m));

    assert.equal(await publish(url, "/_genesys", { message: "agent available", n: 1 }), 1);
    assert.equal(await publish(url, "/queue/chat/position", { _position: 2 }), 1);
    await waitFor("message on /_genesys", () => got.length === 1);
    await waitFor("message on /queue/**", () => wild.length === 1);
    assert.equal(got[0].channel, "/_genesys");
    assert.deepEqual(got[0].data, { message: "agent available", n: 1 });
    assert.deepEqual(wild[0].data, { _position: 2 });

    await cometdUnsubscribe(cometd, sub);
    assert.equal(await publish(url, "/_genesys", { n: 2 }), 0, "no subscriber after unsubscribe");

    const st = await stats(url);
    if (transport === "websocket") assert.ok(st.websocketUpgrades >= 1, "websocket used");
    else assert.equal(st.websocketUpgrades, 0, "long-polling only");
    assert.equal(st.clients, 1);

    await cometdDisconnect(cometd);
    await waitFor("session removed", async () => (await stats(url)).clients === 0);
    assert.equal(got.length, 1);
  });

  test(`faye ${transport}: handshake, subscribe, receive, unsubscribe, disconnect`, async (t) => {
    const url = await startServer(t);
    const client = newFaye(t, url, transport);
    const got = [];
    const listener = (data) => got.push(data);
    const { sub } = await fayeSubscribe(client, "/_genesys", listener);
    const hs = client.incomingLog.find((m) => m.channel === "/meta/handshake");
    assert.ok(hs && hs.successful, "handshake succeeded");
    assert.equal(hs.version, "1.0");
    assert.match(client._dispatcher.clientId, /^[0-9a-f]{32}$/);

    if (transport === "websocket") {
      await waitFor("faye switched to websocket", () => client._dispatcher.connectionType === "websocket");
    }
    assert.equal(await publish(url, "/_genesys", { _id: "369-1", _message: "hello" }), 1);
    await waitFor("faye message", () => got.length === 1);
    assert.deepEqual(got[0], { _id: "369-1", _message: "hello" });

    const st = await stats(url);
    if (transport === "websocket") assert.ok(st.websocketUpgrades >= 1, "websocket used");
    else assert.equal(st.websocketUpgrades, 0, "long-polling only");
    assert.equal(client._dispatcher.connectionType, transport);

    sub.cancel(); // sends /meta/unsubscribe: the last listener is gone
    const unsub = await fayeReply(client, "/meta/unsubscribe");
    assert.equal(unsub.successful, true);
    assert.equal(await publish(url, "/_genesys", { n: 2 }), 0, "no subscriber after unsubscribe");

    client.disconnect();
    await waitFor("session removed", async () => (await stats(url)).clients === 0);
    assert.equal(got.length, 1);
  });

  test(`cometd ${transport} + AckExtension: every message arrives across a forced reconnect`, async (t) => {
    const url = await startServer(t);
    const cometd = newCometD(t, url, transport, { ack: true });
    const hs = await cometdHandshake(cometd);
    assert.equal(hs.ext?.ack, true, "server announces the ack extension");
    const got = [];
    await cometdSubscribe(cometd, "/ack/test", (m) => got.push(m.data.n));

    assert.equal(await publish(url, "/ack/test", { n: 1 }), 1);
    await waitFor("message 1", () => got.length === 1);

    // The connection carrying message 2 is closed instead of written: the
    // client reconnects and must get message 2 again from the server.
    await dropNext(url, '"n":2');
    assert.equal(await publish(url, "/ack/test", { n: 2 }), 1);
    await waitFor("the drop", async () => (await stats(url)).drops === 1);
    assert.equal(await publish(url, "/ack/test", { n: 3 }), 1);
    await waitFor("messages 2 and 3", () => got.length >= 3);
    assert.deepEqual(got, [1, 2, 3]);
    assert.equal(cometd.getClientId() !== undefined, true);
    assert.equal((await stats(url)).clients, 1, "same session, no re-handshake needed");
  });
}

test("cometd long-polling: a handshake the authorizer refuses (gms_user header) fails with its error", async (t) => {
  const url = await startServer(t);
  const cometd = newCometD(t, url, "long-polling", { headers: { gms_user: "bad" } });
  await assert.rejects(cometdHandshake(cometd), (err) => {
    assert.equal(err.reply.successful, false);
    assert.equal(err.reply.error, "401::Unknown gms_user");
    return true;
  });
  assert.equal((await stats(url)).clients, 0);
});
