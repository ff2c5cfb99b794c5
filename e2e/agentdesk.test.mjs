// agentdesk.test.mjs: omniroute's Agent Manager Socket.IO API (package
// agentdesk, Issue-2 subset) against the official socket.io-client 4.4.0,
// the client version the Agent Desk Developer Guide (seed 004) requires.
// Payload shapes are checked against /work/shared/PROTOCOLS.md ("ExpertFlow
// CX Agent Manager").
//
//   node --test e2e/agentdesk.test.mjs
//
// The server is the real `omniroute serve` (lib/server.mjs: built with `go
// build` unless OMNIROUTE_BIN names the binary, as `go test ./agentdesk/...
// -run TestE2E` does) on the desk fixture's configuration (lib/deskfixture.mjs:
// MRDs chat (cap 2) and voice, queues chat, chat-rona (RONA 300 ms), voice;
// agents a1..a3 whose desk tokens it mints with the admin API). Every test
// starts its own server on its own data directory, so tests share no state.
// Every wait has a timeout; nothing sleeps to assert.
import { test } from "node:test";
import assert from "node:assert/strict";
import { omniroute } from "./lib/server.mjs";
import { startDesk, tokenOf, unknownAgentToken, createConversation, agentView, setAgentState } from "./lib/deskfixture.mjs";
import { connect, next, none, connected, connectError, emitAck, login, agentState, mrdState, isState } from "./lib/desk.mjs";

const binary = omniroute();

// ---------------------------------------------------------------- helpers
// (shared ones: lib/server.mjs, lib/deskfixture.mjs, lib/desk.mjs)

// startServer starts the server for test t and resolves with its URL.
const startServer = (t) => startDesk(t, binary());

// ------------------------------------------------------ shape assertions
// PROTOCOLS.md, "ExpertFlow CX Agent Manager".

const isoTime = (v, what) => assert.ok(typeof v === "string" && !Number.isNaN(Date.parse(v)), `${what}: ${JSON.stringify(v)} is not a time`);

function assertCCUser(u, id) {
  assert.equal(u.participantType, "CCUser");
  assert.equal(u.id, id);
  assert.equal(typeof u.keycloakUser, "object");
  assert.equal(u.keycloakUser.id, id);
  assert.equal(typeof u.keycloakUser.username, "string");
  assert.ok(Array.isArray(u.associatedRoutingAttributes));
  for (const a of u.associatedRoutingAttributes) {
    assert.equal(typeof a.routingAttribute.name, "string");
    assert.equal(typeof a.value, "number");
  }
}

function assertPresence(p, id) {
  for (const k of ["agent", "state", "stateChangeTime", "agentMrdStates", "action", "agentLoginTime", "agentStateChanged", "mrdStateChanges"]) {
    assert.ok(k in p, `agentPresence has no ${k}: ${JSON.stringify(p)}`);
  }
  assertCCUser(p.agent, id);
  assert.ok(["READY", "NOT_READY", "LOGOUT"].includes(p.state.name), p.state.name);
  assert.ok("reasonCode" in p.state);
  if (p.state.reasonCode !== null) {
    assert.equal(typeof p.state.reasonCode.id, "string");
    assert.equal(typeof p.state.reasonCode.name, "string");
    assert.ok(["NOT_READY", "LOGOUT"].includes(p.state.reasonCode.type));
  }
  isoTime(p.stateChangeTime, "stateChangeTime");
  assert.ok(p.agentLoginTime === null || typeof p.agentLoginTime === "string");
  assert.ok(["AGENT_STATE_CHANGED", "AGENT_STATE_UNCHANGED"].includes(p.action));
  assert.equal(typeof p.agentStateChanged, "boolean");
  assert.ok(Array.isArray(p.mrdStateChanges) && p.mrdStateChanges.every((m) => typeof m === "string"));
  assert.ok(Array.isArray(p.agentMrdStates) && p.agentMrdStates.length === 2);
  const mrdStates = ["LOGOUT", "LOGIN", "NOT_READY", "PENDING_NOT_READY", "READY", "INTERRUPTED", "ACTIVE", "BUSY", "UNKNOWN", "OB_RESERVED", "RESERVED"];
  for (const m of p.agentMrdStates) {
    for (const k of ["id", "name", "description", "interruptible", "maxRequests"]) assert.ok(k in m.mrd, `mrd has no ${k}`);
    assert.equal(typeof m.mrd.interruptible, "boolean");
    assert.equal(typeof m.mrd.maxRequests, "number");
    assert.ok(mrdStates.includes(m.state), m.state);
    isoTime(m.stateChangeTime, "mrd stateChangeTime");
    assert.ok("lastReadyStateChangeTime" in m);
  }
}

function assertTaskRequest(r, agent, conversationId) {
  for (const k of ["conversationId", "channelSession", "roomInfo", "taskId", "taskState", "taskDirection", "queue", "note", "requestedBy", "correlationId", "ccUser"]) {
    assert.ok(k in r, `taskRequest has no ${k}: ${JSON.stringify(r)}`);
  }
  assert.equal(r.conversationId, conversationId);
  assert.equal(typeof r.channelSession.channel.channelConfig.routingPolicy.agentRequestTtl, "number");
  assert.deepEqual(r.roomInfo, { id: conversationId, mode: "CONTACT_CENTER" });
  assert.equal(typeof r.taskId, "string");
  assert.deepEqual(r.taskState, { name: "RESERVED" });
  assert.equal(r.taskDirection, "INBOUND");
  assert.equal(typeof r.queue.id, "string");
  assert.equal(typeof r.queue.name, "string");
  assert.equal(r.requestedBy, null);
  assert.equal(r.ccUser.id, agent);
}

// ------------------------------------------------------------------ tests

test("connect: polling then websocket upgrade, agentPresence on connect", async (t) => {
  const url = await startServer(t);
  const socket = connect(t, url, { agent: "a1", fcm: "", token: tokenOf(url, "a1") });
  await connected(socket);
  const p = await next(socket, "agentPresence");
  assertPresence(p, "a1");
  assert.equal(p.action, "AGENT_STATE_CHANGED");
  assert.equal(p.state.name, "LOGOUT");
  assert.equal(p.state.reasonCode, null);
  assert.equal(p.agentLoginTime, null);
  assert.deepEqual(p.agentMrdStates.map((m) => [m.mrd.id, m.mrd.maxRequests, m.mrd.interruptible, m.state]), [
    ["chat", 2, true, "NOT_READY"],
    ["voice", 1, false, "NOT_READY"],
  ]);
  assert.deepEqual(p.agent.associatedRoutingAttributes.map((a) => [a.routingAttribute.name, a.value]), [["english", 5]]);
});

test("connect: keycloak user object, token in auth.agent, websocket only", async (t) => {
  const url = await startServer(t);
  const socket = connect(t, url, { agent: { id: "a2", username: "a2", firstName: "Agent", token: tokenOf(url, "a2") }, fcm: "" }, { transports: ["websocket"] });
  await connected(socket);
  assertPresence(await next(socket, "agentPresence"), "a2");
  assert.equal(socket.io.engine.transport.name, "websocket");
});

test("connect: Authorization Bearer header", async (t) => {
  const url = await startServer(t);
  const socket = connect(t, url, { agent: "a3", fcm: "" }, { extraHeaders: { Authorization: `Bearer ${tokenOf(url, "a3")}` } });
  await connected(socket);
  assertPresence(await next(socket, "agentPresence"), "a3");
});

test("connect_error: UNAUTHORIZED, AGENT_MISMATCH, UNKNOWN_AGENT", async (t) => {
  const url = await startServer(t);
  // A valid token (same secret) of an agent this server does not have.
  const tokenZZ = await unknownAgentToken(t, binary(), "zz");
  for (const [label, auth, code, opts] of [
    ["no token", { agent: "a1", fcm: "" }, "UNAUTHORIZED", {}],
    ["bad token", { agent: "a1", fcm: "", token: "nope" }, "UNAUTHORIZED", { transports: ["websocket"] }],
    ["other agent", { agent: "a2", fcm: "", token: tokenOf(url, "a1") }, "AGENT_MISMATCH", {}],
    ["other keycloak user", { agent: { id: "a2", username: "a2" }, fcm: "", token: tokenOf(url, "a1") }, "AGENT_MISMATCH", { transports: ["websocket"] }],
    ["unknown agent", { agent: "zz", fcm: "", token: tokenZZ }, "UNKNOWN_AGENT", {}],
  ]) {
    const socket = connect(t, url, auth, opts);
    const err = await connectError(socket, label);
    assert.equal(typeof err.message, "string", label);
    assert.ok(err.message.length > 0, label);
    assert.equal(err.data?.code, code, `${label}: ${JSON.stringify(err.data)}`);
    assert.equal(socket.connected, false, label);
  }
});

test("changeAgentState agentState: READY, NOT_READY with reason, LOGOUT reach every socket", async (t) => {
  const url = await startServer(t);
  const { socket: s1 } = await login(t, url, "a1");
  const { socket: s2 } = await login(t, url, "a1", { transports: ["websocket"] });

  assert.deepEqual(await emitAck(s1, "changeAgentState", agentState("a1", "READY")), { ok: true });
  for (const s of [s1, s2]) {
    const p = await next(s, "agentPresence", isState("READY"));
    assertPresence(p, "a1");
    assert.equal(p.action, "AGENT_STATE_CHANGED");
    assert.equal(p.agentStateChanged, true);
    assert.deepEqual(p.mrdStateChanges, ["chat", "voice"]);
    assert.ok(p.agentMrdStates.every((m) => m.state === "READY" && typeof m.lastReadyStateChangeTime === "string"));
    isoTime(p.agentLoginTime, "agentLoginTime");
  }

  s1.emit("changeAgentState", agentState("a1", "NOT_READY", { id: "lunch", name: "Lunch Break", type: "NOT_READY" }));
  for (const s of [s1, s2]) {
    const p = await next(s, "agentPresence", isState("NOT_READY"));
    assertPresence(p, "a1");
    assert.deepEqual(p.state.reasonCode, { id: "lunch", name: "Lunch Break", type: "NOT_READY" });
    assert.ok(p.agentMrdStates.every((m) => m.state === "NOT_READY"));
  }

  // The same again changes nothing: AGENT_STATE_UNCHANGED to the sender only.
  s2.emit("changeAgentState", agentState("a1", "NOT_READY", { id: "lunch", name: "Lunch Break", type: "NOT_READY" }));
  const u = await next(s2, "agentPresence", (p) => p.action === "AGENT_STATE_UNCHANGED");
  assertPresence(u, "a1");
  assert.equal(u.reason.code, "STATE_UNCHANGED");
  await none(s1, "agentPresence", 200);

  s2.emit("changeAgentState", agentState("a1", "LOGOUT", { id: "eod", name: "End of day", type: "LOGOUT" }));
  for (const s of [s1, s2]) {
    const p = await next(s, "agentPresence", isState("LOGOUT"));
    assert.deepEqual(p.state.reasonCode, { id: "eod", name: "End of day", type: "LOGOUT" });
  }

  // A change made outside the desk (REST, supervisor) reaches it too.
  await setAgentState(url, "a1", { state: "NOT_READY" });
  const p = await next(s1, "agentPresence", isState("NOT_READY"));
  assert.equal(p.agentStateChanged, true);
  assert.equal(p.state.reasonCode, null);
});

test("changeAgentState agentMRDState: READY refused while NOT_READY, NOT_READY on one MRD", async (t) => {
  const url = await startServer(t);
  const { socket } = await login(t, url, "a1");
  socket.emit("changeAgentState", agentState("a1", "NOT_READY"));
  await next(socket, "agentPresence", isState("NOT_READY"));

  const ack = await emitAck(socket, "changeAgentState", mrdState("a1", "chat", "READY"));
  assert.equal(ack.ok, false);
  assert.equal(ack.code, "AGENT_NOT_READY");
  const refused = await next(socket, "agentPresence", (p) => p.action === "AGENT_STATE_UNCHANGED");
  assertPresence(refused, "a1");
  assert.equal(refused.reason.code, "AGENT_NOT_READY");
  assert.equal(typeof refused.reason.message, "string");
  assert.equal(refused.agentMrdStates[0].state, "NOT_READY");

  socket.emit("changeAgentState", agentState("a1", "READY"));
  await next(socket, "agentPresence", isState("READY"));
  socket.emit("changeAgentState", mrdState("a1", "voice", "NOT_READY"));
  const p = await next(socket, "agentPresence", (p) => p.mrdStateChanges.includes("voice"));
  assertPresence(p, "a1");
  assert.equal(p.agentStateChanged, false);
  assert.deepEqual(p.mrdStateChanges, ["voice"]);
  assert.deepEqual(p.agentMrdStates.map((m) => m.state), ["READY", "NOT_READY"]);

  socket.emit("changeAgentState", mrdState("a1", "voice", "READY"));
  const back = await next(socket, "agentPresence", (p) => p.mrdStateChanges.includes("voice"));
  assert.deepEqual(back.agentMrdStates.map((m) => m.state), ["READY", "READY"]);
});

test("taskRequest -> topicSubscription -> onTopicData -> topicUnsubscription_ -> topicUnsubscription", async (t) => {
  const url = await startServer(t);
  const { socket: s1 } = await login(t, url, "a1");
  const { socket: s2 } = await login(t, url, "a1", { transports: ["websocket"] });
  s1.emit("changeAgentState", agentState("a1", "READY"));
  await next(s1, "agentPresence", isState("READY"));

  const conv = await createConversation(url, { queue: "chat", customer: { id: "cust-1", firstName: "Ada" }, attributes: { topic: "billing" } });
  let offer;
  for (const s of [s1, s2]) {
    offer = await next(s, "taskRequest");
    assertTaskRequest(offer, "a1", conv.id);
  }
  assert.equal(offer.channelSession.channel.channelConfig.routingPolicy.agentRequestTtl, 30);
  assert.deepEqual(offer.queue, { id: "chat", name: "Chat Sales" });
  assert.deepEqual(offer.channelSession.customer, { id: "cust-1", firstName: "Ada" });
  assert.equal(offer.correlationId, conv.requestId);
  assert.equal((await agentView(url, "a1")).tasks[0].state, "RESERVED");

  const ack = await emitAck(s1, "topicSubscription", {
    topicParticipant: { type: "AGENT", participant: { id: "a1" }, role: "PRIMARY", state: "SUBSCRIBED", topicId: conv.id, token: null, userCredentials: null },
    conversationId: conv.id,
    agentId: "a1",
    taskId: offer.taskId,
    roomInfo: offer.roomInfo,
  });
  assert.deepEqual(ack, { ok: true });
  for (const s of [s1, s2]) {
    const d = await next(s, "onTopicData");
    for (const k of ["conversationId", "correlationId", "roomInfo", "taskId", "topicData"]) assert.ok(k in d, `onTopicData has no ${k}`);
    assert.equal(d.conversationId, conv.id);
    assert.equal(d.taskId, offer.taskId);
    assert.deepEqual(d.roomInfo, { id: conv.id, mode: "CONTACT_CENTER" });
    const td = d.topicData;
    for (const k of ["id", "topicParticipant", "customer", "conversationData", "state", "participants", "agentParticipants", "channelSession"]) {
      assert.ok(k in td, `topicData has no ${k}`);
    }
    assert.equal(td.id, conv.id);
    assert.equal(td.state, "ACTIVE");
    assert.deepEqual(td.customer, { id: "cust-1", firstName: "Ada" });
    assert.deepEqual(td.conversationData, { topic: "billing" });
    assert.equal(td.topicParticipant.role, "PRIMARY");
    assert.equal(td.topicParticipant.type, "AGENT");
    assertCCUser(td.topicParticipant.participant, "a1");
    assert.equal(td.agentParticipants.length, 1);
    assert.ok(td.participants.some((p) => p.type === "CUSTOMER"));
  }
  assert.equal((await agentView(url, "a1")).tasks[0].state, "ACTIVE");

  const left = await emitAck(s2, "topicUnsubscription_", { conversationId: conv.id, agentId: "a1", taskId: offer.taskId });
  assert.deepEqual(left, { ok: true });
  for (const s of [s1, s2]) {
    const u = await next(s, "topicUnsubscription");
    assert.equal(u.task, "topicUnsubscription");
    assert.equal(u.conversationId, conv.id);
    assert.equal(u.statusCode, 200);
    assert.deepEqual(u.roomInfo, { id: conv.id, mode: "CONTACT_CENTER" });
    assert.equal(u.reason, "DONE");
  }
  assert.deepEqual((await agentView(url, "a1")).tasks, []);
});

test("revokeTask on RONA, agent NOT_READY with reason RONA, late accept refused", async (t) => {
  const url = await startServer(t);
  const { socket } = await login(t, url, "a2", { transports: ["websocket"] });
  socket.emit("changeAgentState", agentState("a2", "READY"));
  await next(socket, "agentPresence", isState("READY"));

  const conv = await createConversation(url, { queue: "chat-rona" });
  const offer = await next(socket, "taskRequest");
  assertTaskRequest(offer, "a2", conv.id);
  assert.equal(offer.channelSession.channel.channelConfig.routingPolicy.agentRequestTtl, 0.3);

  const revoked = await next(socket, "revokeTask");
  assert.deepEqual(revoked, { conversationId: conv.id, taskId: offer.taskId, reason: "RONA" });
  const p = await next(socket, "agentPresence", isState("NOT_READY"));
  assertPresence(p, "a2");
  assert.equal(p.agentStateChanged, true);
  assert.equal(p.state.reasonCode.id, "RONA");

  socket.emit("topicSubscription", { conversationId: conv.id, agentId: "a2", taskId: offer.taskId, topicParticipant: { role: "PRIMARY" } });
  const err = await next(socket, "errors");
  assert.deepEqual(Object.keys(err).sort(), ["code", "event", "message"]);
  assert.equal(err.code, "TASK_NOT_FOUND");
  assert.equal(err.event, "topicSubscription");
});

test("reconnect: a RESERVED offer is sent again", async (t) => {
  const url = await startServer(t);
  const first = await login(t, url, "a3");
  first.socket.emit("changeAgentState", agentState("a3", "READY"));
  await next(first.socket, "agentPresence", isState("READY"));
  const conv = await createConversation(url, { queue: "voice" });
  const offer = await next(first.socket, "taskRequest");
  first.socket.close();

  const { socket, presence } = await login(t, url, "a3");
  assert.equal(presence.agentMrdStates[1].state, "BUSY");
  const again = await next(socket, "taskRequest");
  assert.deepEqual(again, offer);
  assert.equal(again.conversationId, conv.id);
});

test("errors: malformed payload, foreign agentId, unsupported event", async (t) => {
  const url = await startServer(t);
  const { socket } = await login(t, url, "a1", { transports: ["websocket"] });

  socket.emit("changeAgentState", { agentId: "a1", action: "agentState", state: { name: "SLEEPING" } });
  let err = await next(socket, "errors");
  assert.equal(err.code, "INVALID_FIELD");
  assert.equal(err.field, "state.name");
  assert.equal(err.event, "changeAgentState");

  socket.emit("changeAgentState", agentState("a2", "READY"));
  err = await next(socket, "errors");
  assert.equal(err.code, "FORBIDDEN");

  socket.emit("topicUnsubscription_", { agentId: "a1" });
  err = await next(socket, "errors");
  assert.equal(err.code, "MISSING_FIELD");
  assert.equal(err.event, "topicUnsubscription_");

  const ack = await emitAck(socket, "subscribePullModeList", {});
  assert.equal(ack.code, "UNSUPPORTED_EVENT");
  err = await next(socket, "errors");
  assert.equal(err.code, "UNSUPPORTED_EVENT");

  // The connection survived all of it.
  assert.deepEqual(await emitAck(socket, "changeAgentState", agentState("a1", "READY")), { ok: true });
});
