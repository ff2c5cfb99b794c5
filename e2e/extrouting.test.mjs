// extrouting.test.mjs: omniroute's Salesforce-style external routing
// (package extrouting; seed 000 "Expected Behavior for External Routing for
// Omni-Channel"; /work/shared/PROTOCOLS.md "Salesforce external routing")
// end to end, with the clients a partner and an agent really use:
//
//   - the partner router listens with jsforce 3.10.8 (Connection
//     {instanceUrl, accessToken, version "41.0"}, conn.streaming.createClient
//     with StreamingExtension.Replay: Faye long-polling on /cometd/41.0 with
//     "Authorization: OAuth <token>") AND, in parallel, the official CometD
//     client (cometd 9.0.0 + cometd-nodejs-client 2.0.0, "Authorization:
//     Bearer <token>"), both on /topic/PendingServiceRoutingTopic;
//   - the partner creates AgentWork with fetch (POST
//     /services/data/v41.0/sobjects/AgentWork, Bearer partner token) and,
//     once, with jsforce's own REST (conn.sobject("AgentWork").create);
//   - agents log in with username/password (POST /agent-manager/agent/login)
//     and work on the Agent Desk Socket.IO API with socket.io-client 4.4.0:
//     READY, taskRequest, topicSubscription (accept), directTransferRequest.
//     The desk protocol has no decline event, so a decline goes through the
//     native REST API: POST /v1/tasks/{id}/decline?agent=ID with the admin
//     token.
//
//   node --test e2e/extrouting.test.mjs
//
// The server is the real binary, `omniroute serve` with the config file
// this test writes (lib/server.mjs: built with `go build` unless
// OMNIROUTE_BIN names it, as `go test ./extrouting/ -run TestE2E` does).
// Every test starts its own server on its own data directory, so tests
// share no state. Every wait has a
// timeout; nothing sleeps to assert. E2E_DEBUG=1 logs every event received.
import { test } from "node:test";
import assert from "node:assert/strict";
import { io } from "socket.io-client";
import { adapt } from "cometd-nodejs-client";
import { CometD } from "cometd";
import jsforce from "jsforce";
import { StreamingExtension } from "jsforce/lib/api/streaming.js";
import { dataDir, omniroute, startOmniroute } from "./lib/server.mjs";

adapt(); // XMLHttpRequest and WebSocket for the CometD client

const STEP_TIMEOUT_MS = 10_000;
const API_VERSION = "41.0";
const TOPIC = "PendingServiceRoutingTopic";
const CHANNEL = `/topic/${TOPIC}`;
const PARTNER_TOKEN = "partner-token-0123456789abcdef";
const ADMIN_TOKEN = "e2e-admin-token-0123456789";

// The configuration: MRD chat; external queues ext (push timeout 30 s),
// ext2 (transfer target) and ext-rona (push timeout 1 s); an internal
// queue on the same MRD for the mixed-routing refusal; agents a1..a3 with
// plain passwords (hashed by the config loader); one partner.
const CONFIG = `
auth:
  adminTokens: ["${ADMIN_TOKEN}"]
mrds:
  - {id: chat, name: Chat, description: Chat, interruptible: true, maxRequests: 2}
queues:
  - {id: ext, name: External, mrd: chat, mode: external, ronaTimeoutSeconds: 30}
  - {id: ext2, name: External 2, mrd: chat, mode: external, ronaTimeoutSeconds: 30}
  - {id: ext-rona, name: External RONA, mrd: chat, mode: external, ronaTimeoutSeconds: 1}
  - {id: internal, name: Internal, mrd: chat, mode: internal, ronaTimeoutSeconds: 30}
agents:
  - {id: a1, name: Agent One, role: agent, username: a1, password: a1-password, capacity: {chat: 2}}
  - {id: a2, name: Agent Two, role: agent, username: a2, password: a2-password, capacity: {chat: 2}}
  - {id: a3, name: Agent Three, role: agent, username: a3, password: a3-password, capacity: {chat: 2}}
partners:
  - {id: partner-1, token: "${PARTNER_TOKEN}"}
`;

const binary = omniroute();

// ---------------------------------------------------------------- helpers

const debug = process.env.E2E_DEBUG ? (...a) => console.error(...a) : () => {};

function withTimeout(label, promise, ms = STEP_TIMEOUT_MS) {
  debug("wait", label);
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${label}: nothing within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

// cleanup registers fn to run when test t ends, in reverse order of
// registration (clients close before the server that serves them stops, so
// no client is left retrying and the process can exit).
const cleanups = new WeakMap();
function cleanup(t, fn) {
  let stack = cleanups.get(t);
  if (!stack) {
    stack = [];
    cleanups.set(t, stack);
    t.after(async () => {
      for (const f of stack.reverse()) {
        try {
          await f();
        } catch (err) {
          debug("cleanup", err);
        }
      }
    });
  }
  stack.push(fn);
}

// closeFaye disconnects a Faye client (jsforce's) and waits, boundedly,
// for the server's answer.
async function closeFaye(client) {
  const p = client.disconnect();
  if (p && typeof p.then === "function") await withTimeout("faye disconnect", new Promise((resolve) => p.then(resolve, resolve)), 3000).catch(() => {});
  client._dispatcher?.close?.();
}

// newDataDir makes a data directory and a config file for test t.
function newDataDir(t) {
  return dataDir(t, CONFIG, { prefix: "omniroute-extrouting-data-", cleanup: (fn) => cleanup(t, fn) });
}

// startServer starts `omniroute serve` on dir and resolves with {url,
// stop}: stop() closes it cleanly (SIGTERM) and resolves once it exited 0.
function startServer(t, dir) {
  return startOmniroute(t, binary(), dir, { cleanup: (fn) => cleanup(t, fn) });
}

// A global order of everything observed (stream events and desk events),
// so assertions can compare when things happened across clients.
let observed = 0;

// Inbox collects items and lets a test wait for the first unconsumed one
// matching a predicate.
class Inbox {
  constructor(name) {
    this.name = name;
    this.items = [];
    this.waiters = new Set();
  }
  push(kind, payload) {
    debug(this.name, kind, JSON.stringify(payload)?.slice(0, 300));
    this.items.push({ kind, payload, seq: ++observed, at: Date.now(), consumed: false });
    for (const w of this.waiters) w();
  }
  describe() {
    return this.items.map((r) => `#${r.seq} ${r.kind}${r.consumed ? "(consumed)" : ""} ${JSON.stringify(r.payload)}`).join("\n  ");
  }
  // next resolves with the first unconsumed item of kind matching pred.
  next(kind, pred = () => true, label = `${this.name} ${kind}`) {
    return new Promise((resolve, reject) => {
      const scan = () => this.items.find((r) => !r.consumed && r.kind === kind && pred(r.payload));
      const take = (r) => {
        r.consumed = true;
        return r;
      };
      const found = scan();
      if (found) return resolve(take(found));
      const waiter = () => {
        const r = scan();
        if (r) {
          clearTimeout(timer);
          this.waiters.delete(waiter);
          resolve(take(r));
        }
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`${label}: no matching "${kind}" within ${STEP_TIMEOUT_MS} ms; received:\n  ${this.describe()}`));
      }, STEP_TIMEOUT_MS);
      this.waiters.add(waiter);
    });
  }
  // none rejects if an unconsumed item of kind (matching pred) arrives within ms.
  none(kind, ms, pred = () => true) {
    return new Promise((resolve, reject) => {
      const check = () => this.items.find((r) => !r.consumed && r.kind === kind && pred(r.payload));
      if (check()) return reject(new Error(`${this.name}: unexpected ${kind}: ${JSON.stringify(check().payload)}`));
      const waiter = () => {
        const r = check();
        if (r) {
          clearTimeout(timer);
          this.waiters.delete(waiter);
          reject(new Error(`${this.name}: unexpected ${kind}: ${JSON.stringify(r.payload)}`));
        }
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        resolve();
      }, ms);
      this.waiters.add(waiter);
    });
  }
}

// ------------------------------------------------------- partner streaming

function jsforceConnection(url) {
  return new jsforce.Connection({ instanceUrl: url, accessToken: PARTNER_TOKEN, version: API_VERSION });
}

// subscribeJsforce subscribes a jsforce streaming client (with the Replay
// extension from replayId) and resolves with {inbox, client} once the
// subscription is confirmed. Every message becomes inbox kind "event".
async function subscribeJsforce(t, url, replayId = -1, name = "jsforce") {
  const conn = jsforceConnection(url);
  const replay = new StreamingExtension.Replay(CHANNEL, replayId);
  const client = conn.streaming.createClient([replay]);
  const inbox = new Inbox(name);
  cleanup(t, () => closeFaye(client));
  const sub = client.subscribe(CHANNEL, (msg) => inbox.push("event", msg));
  await withTimeout(`${name} subscribe`, new Promise((resolve, reject) => sub.then(resolve, (err) => reject(new Error(`${name} subscribe refused: ${JSON.stringify(err)}`)))));
  return { inbox, client, sub };
}

// subscribeCometD subscribes the official CometD client (long-polling,
// Bearer token) to the topic, optionally with a replay ext on the subscribe.
async function subscribeCometD(t, url, { replayId, name = "cometd" } = {}) {
  const cometd = new CometD();
  for (const type of cometd.getTransportTypes()) {
    if (type !== "long-polling") cometd.unregisterTransport(type);
  }
  cometd.configure({ url: `${url}/cometd/${API_VERSION}`, logLevel: "warn", requestHeaders: { Authorization: `Bearer ${PARTNER_TOKEN}` } });
  cleanup(t, () => withTimeout(`${name} disconnect`, new Promise((resolve) => {
    if (cometd.isDisconnected()) return resolve();
    cometd.disconnect(resolve);
  }), 3000).catch(() => {}));
  const inbox = new Inbox(name);
  await withTimeout(`${name} handshake`, new Promise((resolve, reject) => {
    cometd.handshake({ ext: { replay: true } }, (reply) => (reply.successful ? resolve(reply) : reject(new Error(`${name} handshake: ${JSON.stringify(reply)}`))));
  }));
  const props = replayId === undefined ? {} : { ext: { replay: { [CHANNEL]: replayId } } };
  const reply = await withTimeout(`${name} subscribe`, new Promise((resolve) => {
    cometd.subscribe(CHANNEL, (msg) => inbox.push("event", msg.data), props, resolve);
  }));
  return { inbox, cometd, reply };
}

// partnerStreams opens both partner subscriptions in parallel.
async function partnerStreams(t, url) {
  const [js, cd] = await Promise.all([subscribeJsforce(t, url), subscribeCometD(t, url)]);
  assert.equal(cd.reply.successful, true, `cometd subscribe: ${JSON.stringify(cd.reply)}`);
  return [js.inbox, cd.inbox];
}

// nextEvent waits for the next PSR event of type on every stream, checks
// that all streams saw the same event, and returns it (with .seq, the
// smallest observation order, and .at).
async function nextEvent(streams, type, pred = () => true, label = type) {
  const got = await Promise.all(streams.map((s) => s.next("event", (d) => d?.event?.type === type && pred(d), `${s.name} ${label}`)));
  const [first] = got;
  for (const g of got.slice(1)) assert.deepEqual(g.payload, first.payload, `${label}: streams disagree`);
  assertEventShape(first.payload);
  return { ...first.payload, seq: Math.min(...got.map((g) => g.seq)), at: Math.min(...got.map((g) => g.at)) };
}

const ID18 = /^[A-Za-z0-9]{18}$/;

function assertEventShape(d) {
  assert.deepEqual(Object.keys(d).sort(), ["event", "sobject"], JSON.stringify(d));
  assert.ok(["created", "updated", "deleted"].includes(d.event.type), d.event.type);
  assert.ok(Number.isInteger(d.event.replayId) && d.event.replayId > 0, `replayId ${d.event.replayId}`);
  assert.match(d.event.createdDate, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.match(d.sobject.Id, ID18);
  assert.ok(d.sobject.Id.startsWith("0JR"), d.sobject.Id);
  if (d.event.type === "deleted") {
    assert.deepEqual(Object.keys(d.sobject), ["Id"], `a deleted event carries only Id: ${JSON.stringify(d.sobject)}`);
    return;
  }
  for (const k of ["Id", "Serial", "QueueId", "WorkItemId", "IsPushed", "ServiceChannelId", "LastDeclinedAgentSession", "CreatedDate", "IsTransfer"]) {
    assert.ok(k in d.sobject, `sobject has no ${k}: ${JSON.stringify(d.sobject)}`);
  }
  assert.equal(typeof d.sobject.IsPushed, "boolean");
  assert.equal(typeof d.sobject.IsTransfer, "boolean");
  assert.equal(d.sobject.ServiceChannelId, "chat");
  assert.match(d.sobject.CreatedDate, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d{4}$/);
}

// assertSameStream checks that every stream saw exactly the same events,
// each once, with strictly increasing replayIds, and returns their types.
function assertSameStream(streams) {
  const lists = streams.map((s) => s.items.filter((r) => r.kind === "event").map((r) => r.payload));
  for (const l of lists.slice(1)) assert.deepEqual(l, lists[0], "the jsforce and CometD streams differ");
  const ids = lists[0].map((d) => d.event.replayId);
  for (let i = 1; i < ids.length; i++) assert.ok(ids[i] > ids[i - 1], `replayIds not increasing: ${ids}`);
  return lists[0].map((d) => d.event.type);
}

// ------------------------------------------------------------ partner REST

async function createAgentWork(url, body, token = PARTNER_TOKEN) {
  const res = await fetch(`${url}/services/data/v${API_VERSION}/sobjects/AgentWork`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

async function assignWork(url, psr, agent) {
  const r = await createAgentWork(url, { ServiceChannelId: "chat", WorkItemId: psr.WorkItemId, UserId: agent, PendingServiceRoutingId: psr.Id });
  assert.equal(r.status, 201, `AgentWork for ${agent}: ${r.status} ${JSON.stringify(r.body)}`);
  assert.equal(r.body.success, true);
  assert.deepEqual(r.body.errors, []);
  assert.match(r.body.id, ID18);
  assert.ok(r.body.id.startsWith("0Bz"), r.body.id);
  return r.body.id;
}

async function getRecord(url, type, id) {
  const res = await fetch(`${url}/services/data/v${API_VERSION}/sobjects/${type}/${id}`, { headers: { authorization: `Bearer ${PARTNER_TOKEN}` } });
  return { status: res.status, body: await res.json() };
}

async function agentWorkStatus(url, id) {
  const r = await getRecord(url, "AgentWork", id);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.Status;
}

// --------------------------------------------------------- admin and desk

async function adminPost(url, route, body) {
  const res = await fetch(url + route, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN_TOKEN}` },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  assert.ok(res.ok, `POST ${route}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

const newConversation = (url, queue) => adminPost(url, "/v1/conversations", { queue, customer: { id: "cust", firstName: "Ada" } });

async function loginToken(url, agent) {
  const res = await fetch(`${url}/agent-manager/agent/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username: agent, password: `${agent}-password` }),
  });
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  assert.equal(body.data.agentId, agent);
  assert.equal(typeof body.data.token, "string");
  return body.data.token;
}

// deskLogin logs agent in (password), connects its desk, sets it READY and
// resolves with {socket, inbox, token}; inbox kinds are desk event names.
async function deskLogin(t, url, agent) {
  const token = await loginToken(url, agent);
  const socket = io(url, { path: "/socket.io", forceNew: true, reconnection: false, auth: { agent, fcm: "", token } });
  const inbox = new Inbox(agent);
  socket.onAny((event, ...args) => inbox.push(event, args[0]));
  cleanup(t, () => socket.close());
  await withTimeout(`${agent} connect`, new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("connect_error", (err) => reject(new Error(`${agent} connect_error ${err.message} ${JSON.stringify(err.data)}`)));
  }));
  await inbox.next("agentPresence", (p) => p.agent.id === agent);
  const ack = await emitAck(socket, "changeAgentState", { agentId: agent, action: "agentState", state: { name: "READY", reasonCode: null } });
  assert.deepEqual(ack, { ok: true }, `${agent} READY`);
  await inbox.next("agentPresence", (p) => p.state.name === "READY");
  return { socket, inbox, token, agent };
}

function emitAck(socket, event, payload) {
  return withTimeout(`${event} ack`, new Promise((resolve) => socket.emit(event, payload, resolve)));
}

// accept accepts the taskRequest offer on the desk (topicSubscription).
async function accept(desk, offer) {
  const ack = await emitAck(desk.socket, "topicSubscription", {
    topicParticipant: { type: "AGENT", participant: { id: desk.agent }, role: "PRIMARY", state: "SUBSCRIBED", topicId: offer.conversationId, token: null, userCredentials: null },
    conversationId: offer.conversationId,
    agentId: desk.agent,
    taskId: offer.taskId,
    roomInfo: offer.roomInfo,
  });
  assert.deepEqual(ack, { ok: true }, `${desk.agent} accept`);
  await desk.inbox.next("onTopicData", (d) => d.taskId === offer.taskId);
}

// offerFor waits for the desk's taskRequest of AgentWork id aw.
async function offerFor(desk, aw, conversationId) {
  const r = await desk.inbox.next("taskRequest", (p) => p.taskId === aw, `${desk.agent} taskRequest ${aw}`);
  assert.equal(r.payload.conversationId, conversationId);
  assert.deepEqual(r.payload.taskState, { name: "RESERVED" });
  assert.equal(r.payload.ccUser.id, desk.agent);
  return { ...r.payload, seq: r.seq, at: r.at };
}

// acceptedConversation runs scenario 1 to the end for a conversation on
// queue ext assigned to desk: created -> AgentWork -> accept -> deleted.
async function acceptedConversation(url, streams, desk) {
  const conv = await newConversation(url, "ext");
  const created = await nextEvent(streams, "created", (d) => d.sobject.WorkItemId === conv.id);
  const aw = await assignWork(url, created.sobject, desk.agent);
  await nextEvent(streams, "updated", (d) => d.sobject.Id === created.sobject.Id && d.sobject.IsPushed === true);
  const offer = await offerFor(desk, aw, conv.id);
  await accept(desk, offer);
  await nextEvent(streams, "deleted", (d) => d.sobject.Id === created.sobject.Id);
  return { conv, psr: created.sobject, aw, offer };
}

// ------------------------------------------------------------------ tests

test("seed 000 accept: created IsPushed=false -> AgentWork -> taskRequest -> accept -> deleted", async (t) => {
  const { url } = await startServer(t, newDataDir(t));
  const streams = await partnerStreams(t, url);
  // A third subscriber, jsforce's plain topic API (no extension).
  const plain = new Inbox("jsforce topic()");
  const conn = jsforceConnection(url);
  const sub = conn.streaming.topic(TOPIC).subscribe((msg) => plain.push("event", msg));
  cleanup(t, () => closeFaye(conn.streaming._fayeClients.pushTopic));
  await withTimeout("jsforce topic().subscribe", new Promise((resolve, reject) => sub.then(resolve, (e) => reject(new Error(JSON.stringify(e))))));
  const all = [...streams, plain];
  const a1 = await deskLogin(t, url, "a1");

  const conv = await newConversation(url, "ext");
  const created = await nextEvent(all, "created", (d) => d.sobject.WorkItemId === conv.id);
  assert.equal(created.sobject.QueueId, "ext");
  assert.equal(created.sobject.IsPushed, false);
  assert.equal(created.sobject.IsTransfer, false);
  assert.equal(created.sobject.LastDeclinedAgentSession, null);
  // The engine never offers an external request by itself.
  await a1.inbox.none("taskRequest", 500);
  const psr = await getRecord(url, "PendingServiceRouting", created.sobject.Id);
  assert.equal(psr.status, 200);
  assert.equal(psr.body.RoutingModel, "ExternalRouting");
  assert.equal(psr.body.WorkItemId, conv.id);

  const aw = await assignWork(url, created.sobject, "a1");
  const pushed = await nextEvent(all, "updated", (d) => d.sobject.Id === created.sobject.Id);
  assert.equal(pushed.sobject.IsPushed, true);
  const offer = await offerFor(a1, aw, conv.id);
  assert.deepEqual(offer.queue, { id: "ext", name: "External" });
  assert.equal(await agentWorkStatus(url, aw), "Assigned");
  // Nothing is deleted before the agent accepts.
  await Promise.all(all.map((s) => s.none("event", 300)));

  await accept(a1, offer);
  const deleted = await nextEvent(all, "deleted", (d) => d.sobject.Id === created.sobject.Id);
  assert.ok(created.seq < offer.seq && offer.seq < deleted.seq, `order created #${created.seq} < taskRequest #${offer.seq} < deleted #${deleted.seq}`);
  assert.ok(created.event.replayId < pushed.event.replayId && pushed.event.replayId < deleted.event.replayId);
  assert.equal(await agentWorkStatus(url, aw), "Opened");
  assert.equal((await getRecord(url, "PendingServiceRouting", created.sobject.Id)).status, 404);
  for (const s of all) assert.deepEqual(s.items.filter((r) => r.kind === "event").map((r) => r.payload.event.type), ["created", "updated", "deleted"], s.name);
  assertSameStream(all);
});

test("seed 000 decline: updated IsPushed=false with LastDeclinedAgentSession (not the token), re-assigned to another agent", async (t) => {
  const { url } = await startServer(t, newDataDir(t));
  const streams = await partnerStreams(t, url);
  const a1 = await deskLogin(t, url, "a1");
  const a2 = await deskLogin(t, url, "a2");

  const conv = await newConversation(url, "ext");
  const created = await nextEvent(streams, "created", (d) => d.sobject.WorkItemId === conv.id);
  // jsforce's own REST create (Authorization: Bearer, /services/data/v41.0/sobjects/AgentWork).
  const res = await jsforceConnection(url).sobject("AgentWork").create({ ServiceChannelId: "chat", WorkItemId: conv.id, UserId: "a1", PendingServiceRoutingId: created.sobject.Id });
  assert.equal(res.success, true, JSON.stringify(res));
  const aw1 = res.id;
  assert.ok(aw1.startsWith("0Bz"), aw1);
  await nextEvent(streams, "updated", (d) => d.sobject.IsPushed === true);
  const offer1 = await offerFor(a1, aw1, conv.id);

  // The desk protocol has no decline event: the native REST API declines.
  await adminPost(url, `/v1/tasks/${encodeURIComponent(offer1.taskId)}/decline?agent=a1`);
  const declined = await nextEvent(streams, "updated", (d) => d.sobject.Id === created.sobject.Id);
  assert.equal(declined.sobject.IsPushed, false);
  assert.equal(declined.sobject.IsTransfer, false);
  const sid = declined.sobject.LastDeclinedAgentSession;
  assert.match(sid, ID18);
  assert.ok(sid.startsWith("0Lx"), sid);
  assert.notEqual(sid, a1.token);
  assert.ok(!a1.token.includes(sid), "the session id is not part of the token");
  assert.notEqual(sid, "a1");
  assert.equal(await agentWorkStatus(url, aw1), "Declined");

  // The decliner is excluded from this PSR.
  const again = await createAgentWork(url, { ServiceChannelId: "chat", WorkItemId: conv.id, UserId: "a1", PendingServiceRoutingId: created.sobject.Id });
  assert.equal(again.status, 400, JSON.stringify(again.body));
  assert.equal(again.body[0].errorCode, "INVALID_CROSS_REFERENCE_KEY");
  assert.deepEqual(again.body[0].fields, ["UserId"]);

  const aw2 = await assignWork(url, declined.sobject, "a2");
  assert.notEqual(aw2, aw1);
  const pushed = await nextEvent(streams, "updated", (d) => d.sobject.IsPushed === true);
  assert.equal(pushed.sobject.LastDeclinedAgentSession, sid);
  const offer2 = await offerFor(a2, aw2, conv.id);
  await accept(a2, offer2);
  await nextEvent(streams, "deleted", (d) => d.sobject.Id === created.sobject.Id);
  assert.equal(await agentWorkStatus(url, aw2), "Opened");
  assert.deepEqual(assertSameStream(streams), ["created", "updated", "updated", "updated", "deleted"]);
});

test("seed 000 push time-out: updated IsPushed=false after the queue's 1 s push timeout, re-assigned", async (t) => {
  const { url } = await startServer(t, newDataDir(t));
  const streams = await partnerStreams(t, url);
  const a1 = await deskLogin(t, url, "a1");
  const a2 = await deskLogin(t, url, "a2");

  const conv = await newConversation(url, "ext-rona");
  const created = await nextEvent(streams, "created", (d) => d.sobject.WorkItemId === conv.id);
  assert.equal(created.sobject.QueueId, "ext-rona");
  const aw1 = await assignWork(url, created.sobject, "a1");
  const pushed = await nextEvent(streams, "updated", (d) => d.sobject.IsPushed === true);
  const offer1 = await offerFor(a1, aw1, conv.id);
  assert.equal(offer1.channelSession.channel.channelConfig.routingPolicy.agentRequestTtl, 1);

  // a1 does nothing: the offer is revoked and the PSR updated.
  const revoked = await a1.inbox.next("revokeTask", (p) => p.taskId === aw1);
  assert.equal(revoked.payload.reason, "RONA");
  const timedOut = await nextEvent(streams, "updated", (d) => d.sobject.IsPushed === false);
  assert.ok(timedOut.at - pushed.at >= 800, `push timeout after ${timedOut.at - pushed.at} ms, want about 1000`);
  assert.equal(timedOut.sobject.Id, created.sobject.Id);
  const sid = timedOut.sobject.LastDeclinedAgentSession;
  assert.match(sid, ID18);
  assert.ok(sid.startsWith("0Lx"), sid);
  assert.notEqual(sid, a1.token);
  assert.equal(await agentWorkStatus(url, aw1), "DeclinedOnPushTimeout");

  const aw2 = await assignWork(url, timedOut.sobject, "a2");
  await nextEvent(streams, "updated", (d) => d.sobject.IsPushed === true);
  await accept(a2, await offerFor(a2, aw2, conv.id));
  await nextEvent(streams, "deleted", (d) => d.sobject.Id === created.sobject.Id);
  assert.deepEqual(assertSameStream(streams), ["created", "updated", "updated", "updated", "deleted"]);
});

test("seed 000 transfer to an external queue: created IsTransfer=true, routed again by the partner", async (t) => {
  const { url } = await startServer(t, newDataDir(t));
  const streams = await partnerStreams(t, url);
  const a1 = await deskLogin(t, url, "a1");
  const a2 = await deskLogin(t, url, "a2");
  const first = await acceptedConversation(url, streams, a1);

  const ack = await emitAck(a1.socket, "directTransferRequest", { conversationId: first.conv.id, agentId: "a1", taskId: first.offer.taskId, mode: "queue", queueId: "ext2", note: "to ext2" });
  assert.deepEqual(ack, { ok: true });
  const created = await nextEvent(streams, "created", (d) => d.sobject.WorkItemId === first.conv.id);
  assert.equal(created.sobject.IsTransfer, true);
  assert.equal(created.sobject.IsPushed, false);
  assert.equal(created.sobject.QueueId, "ext2");
  assert.notEqual(created.sobject.Id, first.psr.Id);
  await a2.inbox.none("taskRequest", 300); // waits for the partner

  const aw = await assignWork(url, created.sobject, "a2");
  await nextEvent(streams, "updated", (d) => d.sobject.Id === created.sobject.Id && d.sobject.IsPushed === true);
  const offer = await offerFor(a2, aw, first.conv.id);
  assert.equal(offer.taskDirection, "DIRECT_TRANSFER");
  assert.equal(offer.note, "to ext2");
  await accept(a2, offer);
  await nextEvent(streams, "deleted", (d) => d.sobject.Id === created.sobject.Id);
  const left = await a1.inbox.next("topicUnsubscription", (u) => u.conversationId === first.conv.id);
  assert.equal(left.payload.reason, "TRANSFERRED");
  assert.equal(await agentWorkStatus(url, first.aw), "Transferred");
  assert.deepEqual(assertSameStream(streams), ["created", "updated", "deleted", "created", "updated", "deleted"]);
});

test("seed 000 direct transfer to another agent: no created, deleted once accepted", async (t) => {
  const { url } = await startServer(t, newDataDir(t));
  const streams = await partnerStreams(t, url);
  const a1 = await deskLogin(t, url, "a1");
  const a3 = await deskLogin(t, url, "a3");
  const first = await acceptedConversation(url, streams, a1);

  const ack = await emitAck(a1.socket, "directTransferRequest", { conversationId: first.conv.id, agentId: "a1", taskId: first.offer.taskId, mode: "agent", requestedAgentId: "a3" });
  assert.deepEqual(ack, { ok: true });
  // The engine offers it to a3 at once; the partner has nothing to route.
  const offer = await a3.inbox.next("taskRequest", (p) => p.conversationId === first.conv.id);
  assert.equal(offer.payload.taskDirection, "DIRECT_TRANSFER");
  await Promise.all(streams.map((s) => s.none("event", 300)));
  await accept(a3, { ...offer.payload });
  const deleted = await nextEvent(streams, "deleted", () => true);
  assert.notEqual(deleted.sobject.Id, first.psr.Id);
  assert.ok(deleted.seq > offer.seq, "deleted after the offer");
  await a1.inbox.next("topicUnsubscription", (u) => u.conversationId === first.conv.id && u.reason === "TRANSFERRED");
  await Promise.all(streams.map((s) => s.none("event", 300)));
  assert.deepEqual(assertSameStream(streams), ["created", "updated", "deleted", "deleted"]);
});

test("transfer from an external conversation to an internal queue is refused (MIXED_ROUTING)", async (t) => {
  const { url } = await startServer(t, newDataDir(t));
  const streams = await partnerStreams(t, url);
  const a1 = await deskLogin(t, url, "a1");
  const a2 = await deskLogin(t, url, "a2");
  const first = await acceptedConversation(url, streams, a1);

  const ack = await emitAck(a1.socket, "directTransferRequest", { conversationId: first.conv.id, agentId: "a1", taskId: first.offer.taskId, mode: "queue", queueId: "internal" });
  assert.equal(ack.ok, false);
  assert.equal(ack.code, "MIXED_ROUTING");
  const err = await a1.inbox.next("errors", (e) => e.event === "directTransferRequest");
  assert.equal(err.payload.code, "MIXED_ROUTING");
  assert.equal(typeof err.payload.message, "string");
  // Nothing changed: no PSR event, no offer, a1 still owns the conversation.
  await Promise.all([...streams.map((s) => s.none("event", 500)), a2.inbox.none("taskRequest", 500), a1.inbox.none("topicUnsubscription", 500)]);
  assert.equal(await agentWorkStatus(url, first.aw), "Opened");
  assert.deepEqual(assertSameStream(streams), ["created", "updated", "deleted"]);
});

test("replay across a server restart: resume from the last replayId, nothing lost or repeated", async (t) => {
  const dir = newDataDir(t);
  let server = await startServer(t, dir);
  const before = await subscribeJsforce(t, server.url, -1, "jsforce before");
  const c1 = await newConversation(server.url, "ext");
  const c2 = await newConversation(server.url, "ext");
  const e1 = (await before.inbox.next("event", (d) => d.sobject.WorkItemId === c1.id)).payload;
  const e2 = (await before.inbox.next("event", (d) => d.sobject.WorkItemId === c2.id)).payload;
  assert.ok(e2.event.replayId > e1.event.replayId);
  const last = Math.max(...before.inbox.items.map((r) => r.payload.event.replayId));
  assert.equal(last, e2.event.replayId);
  await closeFaye(before.client);
  await server.stop();

  server = await startServer(t, dir);
  const url = server.url;
  // An event while the partner is away.
  const c3 = await newConversation(url, "ext");
  const after = await subscribeJsforce(t, url, last, "jsforce after");
  const e3 = (await after.inbox.next("event", (d) => d.sobject.WorkItemId === c3.id)).payload;
  assert.equal(e3.event.type, "created");
  assert.equal(e3.event.replayId, last + 1);
  // And one more, live.
  const c4 = await newConversation(url, "ext");
  const e4 = (await after.inbox.next("event", (d) => d.sobject.WorkItemId === c4.id)).payload;
  assert.equal(e4.event.replayId, e3.event.replayId + 1);
  await after.inbox.none("event", 500);
  assert.deepEqual(after.inbox.items.map((r) => r.payload.sobject.WorkItemId), [c3.id, c4.id], "each event once, none from before the replayId");

  // The records survived too, and -2 replays all four, once each.
  assert.equal((await getRecord(url, "PendingServiceRouting", e1.sobject.Id)).status, 200);
  const all = await subscribeCometD(t, url, { replayId: -2, name: "cometd -2" });
  assert.equal(all.reply.successful, true, JSON.stringify(all.reply));
  for (const c of [c1, c2, c3, c4]) await all.inbox.next("event", (d) => d.sobject.WorkItemId === c.id);
  await all.inbox.none("event", 300);
  assert.deepEqual(all.inbox.items.map((r) => r.payload.event.replayId), [e1, e2, e3, e4].map((e) => e.event.replayId));

  // A replayId beyond the last is refused as Salesforce does.
  const bad = await subscribeCometD(t, url, { replayId: e4.event.replayId + 100, name: "cometd bad" });
  assert.equal(bad.reply.successful, false);
  assert.match(bad.reply.error, /^400::The replayId \{\d+\} you provided was invalid/);
});
