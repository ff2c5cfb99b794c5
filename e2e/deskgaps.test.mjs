// deskgaps.test.mjs: what desks written from seed 004 alone (the Agent Desk
// Developer Guide) and ExpertFlow's own desks send, against the real server
// (`omniroute serve`, embedded JetStream, the config below), with the official socket.io-client 4.4.0:
//
//   - messages up to agentDesk.maxMessageBytes (default 1 MiB, socket.io's
//     maxHttpBufferSize) are accepted on WebSocket and long-polling; a field
//     over its limit is refused with an errors event and an ack naming the
//     field and the limit; a message over the configured limit closes the
//     connection;
//   - the seed's connect snippet, auth {agent: keycloak_User, fcm: ""}, with
//     the user object the login returns;
//   - topicClosed to every participant of a conversation closed by an
//     administrator, by the customer gone then its last agent leaving, by a
//     request's TTL, with wrap-up where the queue has it; a supervisor
//     cannot close one;
//   - agentParticipant in the agent form and the topicParticipant form;
//   - READY with a reasonCode refused (seed 004: it must be null).
//
//   node --test e2e/deskgaps.test.mjs
//
// `go test ./server -run TestE2EDeskGaps` builds the server binary and runs
// this file. Every test starts its own server on its own data directory.
// Every wait has a timeout; nothing sleeps to assert.
import { test } from "node:test";
import assert from "node:assert/strict";
import { dataDir, omniroute, startOmniroute } from "./lib/server.mjs";
import { connect, next, none, connected, emitAck, agentState } from "./lib/desk.mjs";

export const ADMIN_TOKEN = "e2e-admin-token-0123456789";

const BASE_CONFIG = `
auth:
  adminTokens: ["${ADMIN_TOKEN}"]
mrds:
  - {id: chat, name: Chat, description: Chat, interruptible: true, maxRequests: 3}
reasonCodes:
  - {id: break, name: Break, type: NOT_READY}
queues:
  - {id: chat, name: Chat, mrd: chat, ronaTimeoutSeconds: 30}
  - {id: chat-wrap, name: Chat with wrap-up, mrd: chat, ronaTimeoutSeconds: 30, wrapUpSeconds: 60}
agents:
  - {id: a1, name: Agent One, role: agent, teams: [t1], username: a1, password: a1-password, capacity: {chat: 3}}
  - {id: a2, name: Agent Two, role: agent, teams: [t1], username: a2, password: a2-password, capacity: {chat: 3}}
  - {id: a3, name: Agent Three, role: agent, teams: [t2], username: a3, password: a3-password, capacity: {chat: 3}}
  - {id: s1, name: Super One, role: supervisor, teams: [t1], username: s1, password: s1-password}
`;

const binary = omniroute();

// startServer writes the config (BASE_CONFIG + extra) into a fresh
// directory and starts the server on it; resolves with its URL.
async function startServer(t, extra = "") {
  const { url } = await startOmniroute(t, binary(), dataDir(t, BASE_CONFIG + extra, { prefix: "omniroute-deskgaps-" }));
  return url;
}

async function api(url, method, route, body, token = ADMIN_TOKEN) {
  const headers = { authorization: `Bearer ${token}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(url + route, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

// loginREST is the seed's "User Login API": it resolves with the login's data.
async function loginREST(url, id) {
  const res = await fetch(`${url}/agent-manager/agent/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username: id, password: `${id}-password` }),
  });
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  return body.data;
}

// desk logs id in over REST and connects with the token; resolves with the
// socket once its first agentPresence arrived.
async function desk(t, url, id, opts = {}) {
  const data = await loginREST(url, id);
  const socket = connect(t, url, { agent: id, fcm: "", token: data.token }, opts);
  await connected(socket, `${id} connect`);
  await next(socket, "agentPresence", (p) => p.agent.id === id, `${id} presence on connect`);
  return socket;
}

function disconnected(socket, label) {
  return new Promise((resolve, reject) => {
    if (!socket.connected) return resolve("already");
    const timer = setTimeout(() => reject(new Error(`${label}: still connected`)), 10_000);
    socket.once("disconnect", (reason) => {
      clearTimeout(timer);
      resolve(reason);
    });
  });
}

const plain = (conversationId, text) => ({
  conversationId,
  cimEvent: { name: "AGENT_MESSAGE", type: "MESSAGE", conversationId, data: { header: {}, body: { type: "PLAIN", markdownText: text } } },
});

// ------------------------------------------------------------- item 1

for (const transport of ["websocket", "polling"]) {
  test(`messages up to 1 MiB are accepted and field limits answered (${transport})`, async (t) => {
    const url = await startServer(t);
    const a1 = await desk(t, url, "a1", { transports: [transport] });
    // 600 KiB of a field nobody reads: over the old 64 KiB frame limit,
    // under socket.io's 1 MB. The connection stays and the ack comes.
    const big = { ...agentState("a1", "READY"), note: "x".repeat(600 << 10) };
    const ack = await emitAck(a1, "changeAgentState", big);
    assert.equal(ack.ok, true, JSON.stringify(ack));
    assert.ok(a1.connected);
    // A 100 KiB chat message: markdownText is over its limit.
    const refused = await emitAck(a1, "publishCimEvent", plain("c-none", "y".repeat(100 << 10)));
    assert.equal(refused.ok, false);
    assert.equal(refused.code, "FIELD_TOO_LONG");
    assert.equal(refused.field, "cimEvent.data.body.markdownText");
    assert.equal(refused.limit, 8192);
    assert.match(refused.message, /8192/);
    const err = await next(a1, "errors", (e) => e.event === "publishCimEvent");
    assert.equal(err.code, "FIELD_TOO_LONG");
    assert.equal(err.field, "cimEvent.data.body.markdownText");
    assert.equal(err.limit, 8192);
    // An id over its limit names the id field.
    const longID = await emitAck(a1, "topicSubscription", { conversationId: "c".repeat(300), taskId: "t" });
    assert.equal(longID.code, "FIELD_TOO_LONG");
    assert.equal(longID.field, "conversationId");
    assert.ok(longID.limit > 0);
    assert.ok(a1.connected);
  });
}

test("agentDesk.maxMessageBytes is the frame limit", async (t) => {
  const url = await startServer(t, "agentDesk:\n  maxMessageBytes: 32768\n");
  const a1 = await desk(t, url, "a1", { transports: ["websocket"] });
  const ok = await emitAck(a1, "changeAgentState", { ...agentState("a1", "READY"), note: "x".repeat(20 << 10) });
  assert.equal(ok.ok, true);
  const gone = disconnected(a1, "over the limit");
  a1.emit("changeAgentState", { ...agentState("a1", "READY"), note: "x".repeat(40 << 10) });
  await gone;
});

// ------------------------------------------------------------- item 3

test("the seed's connect snippet with the login's keycloak_User connects", async (t) => {
  const url = await startServer(t);
  const data = await loginREST(url, "a1");
  const origin = new URL(url).origin;
  const socket = connect(t, origin, { agent: data.keycloak_User, fcm: "" });
  await connected(socket, "seed connect");
  const p = await next(socket, "agentPresence", (p) => p.agent.id === "a1");
  assert.equal(p.agent.id, "a1");
  // The whole login data works too, and so does the token alone.
  const s2 = connect(t, origin, { agent: data, fcm: "" });
  await connected(s2, "login data as agent");
  // Another agent's user object with a1's token is refused.
  const other = await loginREST(url, "a2");
  const s3 = connect(t, origin, { agent: { ...other.keycloak_User, token: data.token }, fcm: "" });
  const err = await new Promise((resolve) => s3.once("connect_error", resolve));
  assert.equal(err.data.code, "AGENT_MISMATCH");
  await none(socket, "errors", 50);
});

// ------------------------------------------------------------- item 2

// offerAccepted creates a conversation on queue, waits for a1's offer and
// accepts it; resolves with {id, taskId}.
async function offerAccepted(url, a1, queue) {
  const created = await api(url, "POST", "/v1/conversations", { queue, customer: { firstName: "Cy" } });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const id = created.body.id;
  assert.equal(typeof id, "string", JSON.stringify(created.body));
  const offer = await next(a1, "taskRequest", (r) => r.conversationId === id, `${id} offer`);
  const ack = await emitAck(a1, "topicSubscription", { conversationId: id, taskId: offer.taskId, agentId: "a1", topicParticipant: { role: "PRIMARY" } });
  assert.equal(ack.ok, true, JSON.stringify(ack));
  await next(a1, "onTopicData", () => true, `${id} onTopicData`);
  return { id, taskId: offer.taskId };
}

test("a conversation closed by an administrator sends topicClosed to its participants", async (t) => {
  const url = await startServer(t);
  const a1 = await desk(t, url, "a1");
  assert.equal((await emitAck(a1, "changeAgentState", agentState("a1", "READY"))).ok, true);
  const s1 = await desk(t, url, "s1");

  // With wrap-up: topicClosed (reason DONE) after wrapupTimerStarted.
  const w = await offerAccepted(url, a1, "chat-wrap");
  const join = await emitAck(s1, "JoinAsSilentMonitor", { conversationId: w.id, agentId: "s1" });
  assert.equal(join.ok, true, JSON.stringify(join));
  const closed = await api(url, "POST", `/v1/conversations/${w.id}/close`);
  assert.ok(closed.status < 300, JSON.stringify(closed));
  const tc = await next(a1, "topicClosed", (e) => e.conversationId === w.id);
  assert.equal(tc.task, "topicClosed");
  assert.equal(tc.statusCode, 200);
  assert.equal(tc.reason, "DONE");
  assert.equal(tc.taskId, w.taskId);
  await next(a1, "wrapupTimerStarted", (e) => e.conversationId === w.id);
  const sc = await next(s1, "topicClosed", (e) => e.conversationId === w.id);
  assert.equal(sc.reason, "DONE");
  let tasks = await api(url, "GET", "/v1/tasks?agent=a1");
  assert.equal(tasks.status, 200, JSON.stringify(tasks.body));
  const list = tasks.body.items;
  assert.equal(list.find((x) => x.id === w.taskId)?.state, "WRAP_UP", JSON.stringify(list));

  // Without wrap-up: the task is closed.
  const c = await offerAccepted(url, a1, "chat");
  assert.ok((await api(url, "POST", `/v1/conversations/${c.id}/close`)).status < 300);
  const tc2 = await next(a1, "topicClosed", (e) => e.conversationId === c.id);
  assert.equal(tc2.taskId, c.taskId);
  tasks = await api(url, "GET", "/v1/tasks?agent=a1");
  const list2 = tasks.body.items;
  assert.ok(!list2.some((x) => x.id === c.taskId && x.state === "ACTIVE"), JSON.stringify(list2));
});

const GONE_QUEUES = `  - {id: chat-requeue, name: Chat requeued, mrd: chat, ronaTimeoutSeconds: 30, wrapUpSeconds: 60, lastAgentLeaves: requeue}
  - {id: support, name: Support, mrd: chat, ronaTimeoutSeconds: 30, ttlSeconds: 1, members: [a3]}
`;

// startGone is startServer with two more queues: chat-requeue (wrap-up,
// lastAgentLeaves requeue) and support (request TTL 1 s, only a3, who is
// never READY here).
async function startGone(t) {
  const cfg = BASE_CONFIG.replace("agents:\n", GONE_QUEUES + "agents:\n");
  assert.notEqual(cfg, BASE_CONFIG);
  const { url } = await startOmniroute(t, binary(), dataDir(t, cfg, { prefix: "omniroute-deskgaps-" }));
  return url;
}

function checkTopicClosed(tc, conversationId, taskId, reason) {
  assert.equal(tc.task, "topicClosed", JSON.stringify(tc));
  assert.equal(tc.conversationId, conversationId);
  assert.equal(tc.statusCode, 200);
  assert.equal(tc.roomInfo?.id, conversationId, JSON.stringify(tc));
  assert.equal(tc.reason, reason, JSON.stringify(tc));
  assert.equal(tc.taskId, taskId, JSON.stringify(tc));
}

test("the customer gone for good, then the last agent leaving: topicClosed to every participant, task in wrap-up", async (t) => {
  const url = await startGone(t);
  const a1 = await desk(t, url, "a1");
  assert.equal((await emitAck(a1, "changeAgentState", agentState("a1", "READY"))).ok, true);
  const s1 = await desk(t, url, "s1");
  const w = await offerAccepted(url, a1, "chat-requeue");
  assert.equal((await emitAck(s1, "JoinAsSilentMonitor", { conversationId: w.id, agentId: "s1" })).ok, true);

  // The customer leaves while a1 is ACTIVE: both desks hear it at once and
  // a1 keeps a live chat to finish.
  const left = await api(url, "POST", `/v1/conversations/${w.id}/customer-left`);
  assert.equal(left.status, 200, JSON.stringify(left.body));
  for (const sock of [a1, s1]) {
    await next(sock, "onCimEvent", (e) => e.cimEvent?.name === "CUSTOMER_LEFT" && e.cimEvent?.conversationId === w.id);
  }
  let conv = await api(url, "GET", `/v1/conversations/${w.id}`);
  assert.equal(conv.body.state, "OPEN", JSON.stringify(conv.body));

  // a1 leaves: with the customer gone nothing is requeued, the
  // conversation closes (DONE).
  assert.equal((await emitAck(a1, "topicUnsubscription_", { conversationId: w.id, taskId: w.taskId, agentId: "a1" })).ok, true);
  checkTopicClosed(await next(s1, "topicClosed", (e) => e.conversationId === w.id), w.id, `${w.id}:s1`, "DONE");
  checkTopicClosed(await next(a1, "topicClosed", (e) => e.conversationId === w.id), w.id, w.taskId, "DONE");
  await next(a1, "wrapupTimerStarted", (e) => e.conversationId === w.id);
  conv = await api(url, "GET", `/v1/conversations/${w.id}`);
  assert.equal(conv.body.state, "CLOSED", JSON.stringify(conv.body));
  const tasks = await api(url, "GET", "/v1/tasks?agent=a1");
  assert.equal(tasks.body.items.find((x) => x.id === w.taskId)?.state, "WRAP_UP", JSON.stringify(tasks.body));
});

test("a request's TTL closes a conversation its agent left: the supervisor still in it gets topicClosed", async (t) => {
  const url = await startGone(t);
  const a1 = await desk(t, url, "a1");
  assert.equal((await emitAck(a1, "changeAgentState", agentState("a1", "READY"))).ok, true);
  const s1 = await desk(t, url, "s1");
  const c = await offerAccepted(url, a1, "chat");
  assert.equal((await emitAck(s1, "JoinAsSilentMonitor", { conversationId: c.id, agentId: "s1" })).ok, true);

  // The TTL passes while a1 is ACTIVE: the conference fails, nothing closes.
  assert.equal((await emitAck(a1, "directConferenceRequest", { conversationId: c.id, mode: "queue", queueId: "support" })).ok, true);
  await next(a1, "onCimEvent", (e) => e.cimEvent?.name === "NO_AGENT_AVAILABLE" && e.cimEvent?.conversationId === c.id);
  let conv = await api(url, "GET", `/v1/conversations/${c.id}`);
  assert.equal(conv.body.state, "OPEN", JSON.stringify(conv.body));
  let tasks = await api(url, "GET", "/v1/tasks?agent=a1");
  assert.equal(tasks.body.items.find((x) => x.id === c.taskId)?.state, "ACTIVE", JSON.stringify(tasks.body));

  // a1 leaves while a second conference request waits: its TTL closes the
  // conversation (NO_AGENT_AVAILABLE).
  assert.equal((await emitAck(a1, "directConferenceRequest", { conversationId: c.id, mode: "queue", queueId: "support" })).ok, true);
  assert.equal((await emitAck(a1, "topicUnsubscription_", { conversationId: c.id, taskId: c.taskId, agentId: "a1" })).ok, true);
  checkTopicClosed(await next(s1, "topicClosed", (e) => e.conversationId === c.id), c.id, `${c.id}:s1`, "NO_AGENT_AVAILABLE");
  conv = await api(url, "GET", `/v1/conversations/${c.id}`);
  assert.equal(conv.body.state, "CLOSED", JSON.stringify(conv.body));
  tasks = await api(url, "GET", "/v1/tasks?agent=a1");
  assert.ok(!tasks.body.items.some((x) => x.id === c.taskId && x.state === "ACTIVE"), JSON.stringify(tasks.body));
});

test("a supervisor cannot close a conversation; its leave closes nothing", async (t) => {
  const url = await startServer(t);
  const a1 = await desk(t, url, "a1");
  assert.equal((await emitAck(a1, "changeAgentState", agentState("a1", "READY"))).ok, true);
  const s1 = await desk(t, url, "s1");
  const c = await offerAccepted(url, a1, "chat");
  assert.equal((await emitAck(s1, "JoinAsBargeIn", { conversationId: c.id, agentId: "s1" })).ok, true);
  const s1Token = (await loginREST(url, "s1")).token;
  const refused = await api(url, "POST", `/v1/conversations/${c.id}/close`, undefined, s1Token);
  assert.equal(refused.status, 403, JSON.stringify(refused.body));
  assert.equal((await emitAck(s1, "topicUnsubscription_", { conversationId: c.id })).ok, true);
  await next(s1, "topicUnsubscription", (e) => e.conversationId === c.id);
  const conv = await api(url, "GET", `/v1/conversations/${c.id}`);
  assert.equal(conv.body.state, "OPEN", JSON.stringify(conv.body));
  const tasks = await api(url, "GET", "/v1/tasks?agent=a1");
  assert.equal(tasks.body.items.find((x) => x.id === c.taskId)?.state, "ACTIVE", JSON.stringify(tasks.body));
  // Then the admin closes it: a1 gets topicClosed, s1 (gone) does not.
  assert.ok((await api(url, "POST", `/v1/conversations/${c.id}/close`)).status < 300);
  checkTopicClosed(await next(a1, "topicClosed", (e) => e.conversationId === c.id), c.id, c.taskId, "DONE");
  await none(s1, "topicClosed", 200);
});

// ------------------------------------------------------------- item 6

test("READY with a reasonCode is refused, naming state.reasonCode", async (t) => {
  const url = await startServer(t);
  const a1 = await desk(t, url, "a1");
  const ack = await emitAck(a1, "changeAgentState", agentState("a1", "READY", { id: "break", name: "Break", type: "NOT_READY" }));
  assert.equal(ack.ok, false);
  assert.equal(ack.code, "INVALID_FIELD");
  assert.equal(ack.field, "state.reasonCode");
  const err = await next(a1, "errors", (e) => e.event === "changeAgentState");
  assert.equal(err.field, "state.reasonCode");
  const st = await api(url, "GET", "/v1/agents/a1/state");
  assert.notEqual(st.body.state, "READY", JSON.stringify(st.body));
  assert.equal((await emitAck(a1, "changeAgentState", agentState("a1", "READY", null))).ok, true);
});

// ------------------------------------------------------------- item 5

test("agentParticipant as the agent or as the topicParticipant", async (t) => {
  const url = await startServer(t);
  const a1 = await desk(t, url, "a1");
  assert.equal((await emitAck(a1, "changeAgentState", agentState("a1", "READY"))).ok, true);
  const c1 = await offerAccepted(url, a1, "chat");
  const ok = await emitAck(a1, "directTransferRequest", { conversationId: c1.id, agentParticipant: { id: "a1" }, mode: "queue", queueId: "chat-wrap", note: "" });
  assert.equal(ok.ok, true, JSON.stringify(ok));
  const c2 = await offerAccepted(url, a1, "chat");
  const tp = { id: c2.taskId, type: "AGENT", participant: { participantType: "CCUser", id: "a1" }, role: "PRIMARY" };
  const ok2 = await emitAck(a1, "directConferenceRequest", { conversationId: c2.id, agentParticipant: tp, mode: "queue", queueId: "chat-wrap" });
  assert.equal(ok2.ok, true, JSON.stringify(ok2));
  const bad = await emitAck(a1, "directTransferRequest", { conversationId: c2.id, agentParticipant: { participantType: "CCUser", id: "a2" }, mode: "queue", queueId: "chat" });
  assert.equal(bad.code, "FORBIDDEN");
  assert.equal(bad.field, "agentParticipant.id");
});
