// cometd.mjs: helpers for the Bayeux e2e tests (bayeux, gms push) with the
// official CometD JavaScript client (npm "cometd" + "cometd-nodejs-client")
// and Faye: bounded waits, a CometD client restricted to one transport, its
// handshake, and a Faye client that records every incoming message.
import assert from "node:assert/strict";
import { adapt } from "cometd-nodejs-client";
import { CometD } from "cometd";
import { AckExtension } from "cometd/AckExtension.js";
import faye from "faye";

adapt(); // XMLHttpRequest and WebSocket for the CometD client

export const STEP_TIMEOUT_MS = 15_000;

// waitFor polls cond (sync or async) until it is truthy or the step times out.
export async function waitFor(what, cond, timeoutMs = STEP_TIMEOUT_MS) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

// withTimeout rejects when p does not settle within the step timeout.
export function withTimeout(what, p) {
  let timer;
  return Promise.race([
    p,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), STEP_TIMEOUT_MS);
    }),
  ]).finally(() => clearTimeout(timer));
}

// newCometD returns a CometD client for endpoint (the full /cometd URL)
// restricted to one transport, disconnected when test t ends. Options:
// checkTransport asserts the restriction took; ack registers the
// AckExtension; requestHeaders go on every long-polling request.
export function newCometD(t, endpoint, transport, { checkTransport = false, ack = false, requestHeaders } = {}) {
  const cometd = new CometD();
  for (const type of cometd.getTransportTypes()) {
    if (type !== transport) cometd.unregisterTransport(type);
  }
  if (checkTransport) assert.deepEqual(cometd.getTransportTypes(), [transport]);
  if (ack) cometd.registerExtension("ack", new AckExtension());
  cometd.configure({ url: endpoint, logLevel: "warn", requestHeaders });
  t.after(() => {
    if (!cometd.isDisconnected()) cometd.disconnect();
  });
  return cometd;
}

// cometdHandshake handshakes with props and resolves with the reply, or
// rejects with an error carrying it.
export function cometdHandshake(cometd, props = {}) {
  return withTimeout("cometd handshake", new Promise((resolve, reject) => {
    cometd.handshake(props, (reply) => (reply.successful ? resolve(reply) : reject(Object.assign(new Error("handshake failed"), { reply }))));
  }));
}

// newFaye returns a Faye client for endpoint restricted to one transport
// for the connect loop (Faye always handshakes over long-polling and then
// switches to the best transport the server offers), with headers on every
// HTTP request and the websocket upgrade, and records every incoming
// message, meta replies included, in client.incomingLog.
export function newFaye(t, endpoint, transport, headers = {}) {
  const client = new faye.Client(endpoint, { timeout: 10 });
  if (transport === "long-polling") client.disable("websocket");
  client.disable("eventsource");
  for (const [name, value] of Object.entries(headers)) client.setHeader(name, value);
  client.incomingLog = [];
  client.addExtension({
    incoming(message, callback) {
      client.incomingLog.push(message);
      callback(message);
    },
  });
  // Braces matter: disconnect() returns a Faye thenable that never
  // settles, and t.after would wait for it.
  t.after(() => {
    client.disconnect();
  });
  return client;
}
