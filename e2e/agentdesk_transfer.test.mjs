// agentdesk_transfer.test.mjs: transfer, conference, supervisors and
// wrap-up of omniroute's Agent Manager Socket.IO API (package agentdesk,
// Issue 3: transfer.go, supervisor.go, wrapup.go) against the official
// socket.io-client 4.4.0 (seed 004), two agents (a1, a2 of team sales) and
// a supervisor (s1, team sales) of the desk fixture (queues chat,
// chat-wrap with a 60 s wrap-up, support; see e2e/lib/deskfixture.mjs).
// Payload shapes: /work/shared/PROTOCOLS.md ("ExpertFlow CX Agent Manager").
//
//   node --test e2e/agentdesk_transfer.test.mjs
//
// Like agentdesk.test.mjs, it runs the real `omniroute serve` on the desk
// fixture's configuration (built unless OMNIROUTE_BIN names the binary, as
// go test ./agentdesk -run TestE2ETransfer does); every test starts its own
// server; every wait has a timeout.
import { test } from "node:test";
import assert from "node:assert/strict";
import { omniroute } from "./lib/server.mjs";
import { startDesk, createConversation, agentView } from "./lib/deskfixture.mjs";
import { next, emitAck, login, agentState, isState } from "./lib/desk.mjs";

const binary = omniroute();

// ---------------------------------------------------------------- helpers
// (shared ones: lib/server.mjs, lib/deskfixture.mjs, lib/desk.mjs)

// startServer starts the server for test t and resolves with its URL.
const startServer = (t) => startDesk(t, binary());

// ---------------------------------------------------------------- helpers of this file

// cim returns the cimEvent of an onCimEvent payload.
const cim = (p) => p.cimEvent;

// answer makes a conversation on queue (the server names it), lets agent
// accept the offer and resolves with {c1: its id, task: the task's id}.
async function answer(url, agent, queue) {
  const { id } = await createConversation(url, { queue, customer: { id: "cust-c1", firstName: "Ada" } });
  const offer = await next(agent, "taskRequest", (r) => r.conversationId === id, "c1 offer");
  assert.deepEqual(await emitAck(agent, "topicSubscription", { conversationId: id, taskId: offer.taskId }), { ok: true });
  await next(agent, "onTopicData", (d) => d.conversationId === id, "c1 onTopicData");
  return { c1: id, task: offer.taskId };
}

async function ready(socket, id) {
  assert.deepEqual(await emitAck(socket, "changeAgentState", agentState(id, "READY")), { ok: true });
  await next(socket, "agentPresence", isState("READY"), `${id} READY`);
}

// ---------------------------------------------------------------- tests

test("transfer to a queue: the requester stays until a2 accepts, then leaves TRANSFERRED", async (t) => {
  const url = await startServer(t);
  const { socket: a1 } = await login(t, url, "a1");
  const { socket: a2 } = await login(t, url, "a2");
  await ready(a1, "a1");
  const { c1, task: task1 } = await answer(url, a1, "chat");
  await ready(a2, "a2");

  const ack = await emitAck(a1, "directTransferRequest", {
    channelSession: { conversationId: c1 }, agentParticipant: { id: task1 },
    mode: "queue", queueId: "chat", note: "VIP, refund", offerToAgent: true,
  });
  assert.deepEqual(ack, { ok: true });
  const offer = await next(a2, "taskRequest", (r) => r.conversationId === c1, "a2 transfer offer");
  assert.equal(offer.taskDirection, "DIRECT_TRANSFER");
  assert.equal(offer.note, "VIP, refund");
  assert.equal(offer.requestedBy.id, "a1");
  assert.equal(offer.taskState.name, "RESERVED");
  // Until a2 accepts, a1 keeps its task.
  assert.equal((await agentView(url, "a1")).tasks[0].state, "ACTIVE");

  assert.deepEqual(await emitAck(a2, "topicSubscription", { conversationId: c1, taskId: offer.taskId }), { ok: true });
  const data = await next(a2, "onTopicData", (d) => d.conversationId === c1);
  assert.equal(data.topicData.topicParticipant.role, "PRIMARY");
  const gone = await next(a1, "topicUnsubscription", (u) => u.conversationId === c1, "a1 leaves");
  assert.equal(gone.reason, "TRANSFERRED");
  assert.equal(gone.taskId, task1);
  assert.equal((await agentView(url, "a1")).tasks.length, 0);
});

test("conference with a named agent: a2 joins as CONFERENCE, a1 stays", async (t) => {
  const url = await startServer(t);
  const { socket: a1 } = await login(t, url, "a1");
  const { socket: a2 } = await login(t, url, "a2");
  await ready(a1, "a1");
  const { c1 } = await answer(url, a1, "chat");
  await ready(a2, "a2");

  assert.deepEqual(await emitAck(a1, "directConferenceRequest", { conversationId: c1, mode: "agent", requestedAgentId: "a2", note: "help" }), { ok: true });
  const offer = await next(a2, "taskRequest", (r) => r.conversationId === c1);
  assert.equal(offer.taskDirection, "DIRECT_CONFERENCE");
  assert.deepEqual(await emitAck(a2, "topicSubscription", { conversationId: c1 }), { ok: true });
  const data = await next(a2, "onTopicData", (d) => d.conversationId === c1);
  assert.equal(data.topicData.topicParticipant.role, "CONFERENCE");
  assert.deepEqual(data.topicData.agentParticipants.map((p) => p.role).sort(), ["CONFERENCE", "PRIMARY"]);
  assert.equal((await agentView(url, "a1")).tasks[0].state, "ACTIVE");

  // A second conference to someone already in it is refused, and says why.
  const ack = await emitAck(a1, "directConferenceRequest", { conversationId: c1, mode: "agent", requestedAgentId: "a2" });
  assert.equal(ack.code, "ALREADY_EXISTS");
  const err = await next(a1, "errors");
  assert.equal(err.code, "ALREADY_EXISTS");
  assert.equal(err.event, "directConferenceRequest");
});

test("supervisor: silent monitor, then barge in (both spellings), refusals for others", async (t) => {
  const url = await startServer(t);
  const { socket: a1 } = await login(t, url, "a1");
  const { socket: s1 } = await login(t, url, "s1");
  const { socket: s2 } = await login(t, url, "s2");
  await ready(a1, "a1");
  const { c1 } = await answer(url, a1, "chat");

  // s2 supervises team support, a1 is in sales; a1 is no supervisor.
  let ack = await emitAck(s2, "JoinAsSilentMonitor", { agentId: "s2", topicParticipant: { topicId: c1 } });
  assert.equal(ack.code, "TEAM_MISMATCH");
  assert.equal((await next(s2, "errors")).code, "TEAM_MISMATCH");
  ack = await emitAck(a1, "JoinAsBargin", { conversationId: c1 });
  assert.equal(ack.code, "NOT_SUPERVISOR");
  ack = await emitAck(s1, "JoinAsSilentMonitor", { channelSession: { conversationId: "nope" } });
  assert.equal(ack.code, "CONVERSATION_NOT_FOUND");

  ack = await emitAck(s1, "JoinAsSilentMonitor", { agentId: "s1", topicParticipant: { topicId: c1 }, channelSession: { conversationId: c1 } });
  assert.deepEqual(ack, { ok: true });
  const data = await next(s1, "onTopicData", (d) => d.conversationId === c1, "s1 onTopicData");
  assert.equal(data.topicData.topicParticipant.role, "SILENT_MONITOR");
  assert.equal(data.topicData.topicParticipant.id, `${c1}:s1`);
  // No routing capacity: s1 holds no task, a1's load is one.
  assert.equal((await agentView(url, "s1")).tasks.length, 0);

  assert.deepEqual(await emitAck(s1, "JoinAsBargin", { participantId: `${c1}:s1`, conversationId: c1, roomInfo: { id: c1, mode: "CONTACT_CENTER" } }), { ok: true });
  for (const [who, sock] of [["a1", a1], ["s1", s1]]) {
    const ev = await next(sock, "onCimEvent", (p) => cim(p).name === "PARTICIPANT_ROLE_CHANGED", `${who} role change`);
    assert.equal(cim(ev).type, "NOTIFICATION");
    assert.equal(cim(ev).conversationId, c1);
    assert.equal(cim(ev).data.role, "BARGE_IN");
    assert.equal(cim(ev).data.agentId, "s1");
  }
  // Already BARGE_IN: the other spelling is refused as no change.
  ack = await emitAck(s1, "JoinAsBargeIn", { conversationId: c1 });
  assert.equal(ack.code, "INVALID_TRANSITION");

  // The supervisor leaves; the agent is still there.
  assert.deepEqual(await emitAck(s1, "topicUnsubscription_", { conversationId: c1 }), { ok: true });
  await next(s1, "topicUnsubscription", (u) => u.conversationId === c1);
  assert.equal((await agentView(url, "a1")).tasks[0].state, "ACTIVE");
});

test("wrap-up: leaving starts wrapupTimerStarted, NOT_READY is PENDING_NOT_READY, closeWrapup ends it", async (t) => {
  const url = await startServer(t);
  const { socket: a1 } = await login(t, url, "a1");
  await ready(a1, "a1");
  const { c1, task } = await answer(url, a1, "chat-wrap");

  assert.deepEqual(await emitAck(a1, "topicUnsubscription_", { conversationId: c1, agentId: "a1" }), { ok: true });
  const left = await next(a1, "topicUnsubscription");
  assert.equal(left.reason, "WRAP_UP");
  const timer = await next(a1, "wrapupTimerStarted");
  assert.deepEqual([timer.conversationId, timer.taskId, timer.wrapupTime], [c1, task, 60]);

  assert.deepEqual(await emitAck(a1, "changeAgentState", agentState("a1", "NOT_READY")), { ok: true });
  await next(a1, "agentPresence", (p) => p.state.name === "NOT_READY" &&
    p.agentMrdStates.find((m) => m.mrd.id === "chat").state === "PENDING_NOT_READY", "PENDING_NOT_READY");

  let ack = await emitAck(a1, "closeWrapup", { conversationId: "nope" });
  assert.equal(ack.code, "TASK_NOT_FOUND");
  ack = await emitAck(a1, "closeWrapup", { conversationId: c1, taskId: task });
  assert.deepEqual(ack, { ok: true });
  await next(a1, "agentPresence", (p) => p.agentMrdStates.find((m) => m.mrd.id === "chat").state === "NOT_READY", "NOT_READY after wrap-up");
  assert.equal((await agentView(url, "a1")).tasks.length, 0);
});

test("transfer to a queue nobody serves: the requester hears NO_AGENT_AVAILABLE and keeps the conversation", async (t) => {
  const url = await startServer(t);
  const { socket: a1 } = await login(t, url, "a1");
  await ready(a1, "a1");
  const { c1 } = await answer(url, a1, "chat");
  // Queue support (a2, a3, nobody READY) has a 1 s TTL.
  assert.deepEqual(await emitAck(a1, "directTransferRequest", { conversationId: c1, mode: "queue", queueName: "Chat Support" }), { ok: true });
  const ev = await next(a1, "onCimEvent", (p) => cim(p).name === "NO_AGENT_AVAILABLE", "transfer failed");
  assert.equal(cim(ev).data.reason, "EXPIRED");
  assert.equal(cim(ev).data.mode, "transfer");
  assert.equal((await agentView(url, "a1")).tasks[0].state, "ACTIVE");
});
