// agentdesk_cim.test.mjs: conversations (CIM messages and events) and the
// connection life of omniroute's Agent Manager API (package agentdesk,
// Issue 3) against the official socket.io-client 4.4.0 (seed 004), with the
// test playing both the agent (Socket.IO) and the customer (HTTP + SSE on
// the real server's /v1/conversations/{id}/messages, /events and
// /customer-left with the admin token, as a channel back end calls them).
//
//   node --test e2e/agentdesk_cim.test.mjs
//
// Same server, fixture and build rule as agentdesk.test.mjs (`omniroute
// serve` on lib/deskfixture.mjs's configuration; OMNIROUTE_BIN, else `go
// build`); this file configures agentDesk.disconnectGraceSeconds 1 so the
// grace period can be watched. Every wait has a timeout; each waits for
// what it needs to see (an event, a marker behind what must not arrive, a
// gauge on /metrics), except the one wait for nothing to happen, which is
// a window of time (see the grace period test).
import { test } from "node:test";
import assert from "node:assert/strict";
import { omniroute } from "./lib/server.mjs";
import { ADMIN_TOKEN, startDesk, tokenOf, agentView } from "./lib/deskfixture.mjs";
import { STEP_TIMEOUT_MS, connect, next, connected, emitAck } from "./lib/desk.mjs";

const GRACE_MS = 1000;

const binary = omniroute();

// (shared helpers: lib/server.mjs, lib/deskfixture.mjs, lib/desk.mjs)
const startServer = (t) => startDesk(t, binary(), { graceSeconds: GRACE_MS / 1000 });

const auth = (url, agent) => ({ agent, fcm: "", token: tokenOf(url, agent) });
const agentState = (agentId, name) => ({ agentId, action: "agentState", state: { name, reasonCode: null } });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// graces reads omniroute_agentdesk_disconnect_graces on /metrics: how many
// agents' disconnect grace runs.
async function graces(url) {
  const res = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(STEP_TIMEOUT_MS) });
  const m = /^omniroute_agentdesk_disconnect_graces (\S+)$/m.exec(await res.text());
  assert.ok(m, "no omniroute_agentdesk_disconnect_graces on /metrics");
  return Number(m[1]);
}

// waitGraces polls /metrics until n agents' disconnect grace runs.
async function waitGraces(url, n, label) {
  const deadline = Date.now() + STEP_TIMEOUT_MS;
  for (let got = await graces(url); got !== n; got = await graces(url)) {
    if (Date.now() > deadline) throw new Error(`${label}: ${got} disconnect graces, want ${n} within ${STEP_TIMEOUT_MS} ms`);
    await sleep(10);
  }
}

async function http(url, method, body) {
  const res = await fetch(url, {
    method,
    headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN_TOKEN}` },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(STEP_TIMEOUT_MS),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

// customerStream reads the conversation's SSE stream and keeps every
// event; wait(name) resolves with the first one of that name.
function customerStream(t, url, conv, after = 0) {
  const ctrl = new AbortController();
  t.after(() => ctrl.abort());
  const s = { events: [], waiters: new Set() };
  (async () => {
    const res = await fetch(`${url}/v1/conversations/${conv}/events?after=${after}`, { signal: ctrl.signal, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    const dec = new TextDecoder();
    let buf = "";
    for await (const chunk of res.body) {
      buf += dec.decode(chunk, { stream: true });
      let i;
      while ((i = buf.indexOf("\n\n")) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const ev = {};
        for (const line of block.split("\n")) {
          const m = /^(\w+): (.*)$/.exec(line);
          if (m) ev[m[1]] = m[2];
        }
        if (ev.data) {
          s.events.push({ seq: Number(ev.id), event: ev.event, cim: JSON.parse(ev.data) });
          for (const w of s.waiters) w();
        }
      }
    }
  })().catch(() => {});
  s.wait = (name, pred = () => true) =>
    new Promise((resolve, reject) => {
      const scan = () => s.events.find((e) => e.cim.name === name && pred(e.cim));
      if (scan()) return resolve(scan());
      const w = () => {
        if (scan()) {
          clearTimeout(timer);
          s.waiters.delete(w);
          resolve(scan());
        }
      };
      const timer = setTimeout(() => reject(new Error(`customer: no ${name}; got ${s.events.map((e) => e.cim.name)}`)), STEP_TIMEOUT_MS);
      s.waiters.add(w);
    });
  return s;
}

// activeChat: a1 READY, a conversation offered and accepted; resolves with
// {socket, taskId, conv: the conversation's id (the server names it)}.
async function activeChat(t, url, agent) {
  const socket = connect(t, url, auth(url, agent));
  await connected(socket);
  await next(socket, "agentPresence");
  assert.equal((await emitAck(socket, "changeAgentState", agentState(agent, "READY"))).ok, true);
  const created = await http(`${url}/v1/conversations`, "POST", { queue: "chat", customer: { firstName: "Ada" } });
  assert.equal(created.status, 201);
  const conv = created.body.id;
  const offer = await next(socket, "taskRequest", (p) => p.conversationId === conv);
  assert.equal((await emitAck(socket, "topicSubscription", { conversationId: conv, taskId: offer.taskId })).ok, true);
  await next(socket, "onTopicData");
  return { socket, taskId: offer.taskId, conv };
}

const agentMessage = (conv, body, data = {}) => ({
  agentId: "a1",
  conversationId: conv,
  cimEvent: { id: crypto.randomUUID(), name: "AGENT_MESSAGE", type: "MESSAGE", timestamp: new Date().toISOString(), data: { ...data, header: { sender: { id: "a1", type: "AGENT" } }, body } },
});

const BODIES = [
  { type: "PLAIN", markdownText: "Hello Ada" },
  { type: "URL", mediaUrl: "https://example.com/terms" },
  { type: "FILE", caption: "invoice", attachment: { mediaUrl: "https://example.com/i.pdf", mimeType: "application/pdf", size: 1024, mediaName: "i.pdf" } },
  { type: "IMAGE", attachment: { mediaUrl: "https://example.com/p.png", mimeType: "image/png" } },
  { type: "LOCATION", location: { latitude: 48.85, longitude: 2.35 } },
  { type: "BUTTON", buttonMessageType: "QUICK_REPLY", buttons: [{ type: "postback", title: "Yes", payload: "yes" }] },
];

test("messages both ways with every body type, reply by id, whisper never reaches the customer", async (t) => {
  const url = await startServer(t);
  const { socket, conv: cv1 } = await activeChat(t, url, "a1");
  const customer = customerStream(t, url, cv1);
  await customer.wait("AGENT_SUBSCRIBED");

  for (const body of BODIES) {
    const ack = await emitAck(socket, "publishCimEvent", agentMessage(cv1, body));
    assert.equal(ack.ok, true, JSON.stringify(ack));
    const ev = await next(socket, "onCimEvent", (p) => p.cimEvent.name === "AGENT_MESSAGE" && p.cimEvent.data.body.type === body.type);
    assert.equal(ev.conversationId, cv1);
    assert.equal(ev.cimEvent.data.header.sender.id, "a1");
    assert.equal(ev.cimEvent.type, "MESSAGE");
    const seen = await customer.wait("AGENT_MESSAGE", (c) => c.data.body.type === body.type);
    assert.deepEqual(seen.cim.data.body, body);
  }

  for (const body of BODIES) {
    const res = await http(`${url}/v1/conversations/${cv1}/messages`, "POST", { body });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const ev = await next(socket, "onCimEvent", (p) => p.cimEvent.name === "CUSTOMER_MESSAGE" && p.cimEvent.data.body.type === body.type);
    assert.equal(ev.cimEvent.data.header.sender.type, "CUSTOMER");
    assert.equal(ev.cimEvent.data.header.sender.senderName, "Ada");
    assert.deepEqual(ev.cimEvent.data.body, body);
  }

  // Reply by id (seed 004: data.id is the id of the message replied to).
  const first = customer.events.find((e) => e.cim.name === "CUSTOMER_MESSAGE").cim;
  const ack = await emitAck(socket, "publishCimEvent", agentMessage(cv1, { type: "PLAIN", markdownText: "re: that" }, { id: first.data.id }));
  assert.equal(ack.ok, true);
  const reply = await next(socket, "onCimEvent", (p) => p.cimEvent.data?.body?.markdownText === "re: that");
  assert.equal(reply.cimEvent.data.header.originalMessageId, first.data.id);
  assert.notEqual(reply.cimEvent.data.id, first.data.id);
  await customer.wait("AGENT_MESSAGE", (c) => c.data.header.originalMessageId === first.data.id);

  // Whisper: the agent gets it, the customer never does.
  const w = await emitAck(socket, "publishCimEvent", { conversationId: cv1, cimEvent: { name: "WHISPER_MESSAGE", data: { body: { type: "PLAIN", markdownText: "psst" } } } });
  assert.equal(w.ok, true);
  await next(socket, "onCimEvent", (p) => p.cimEvent.name === "WHISPER_MESSAGE");
  await http(`${url}/v1/conversations/${cv1}/messages`, "POST", { body: { type: "PLAIN", markdownText: "marker" } });
  await customer.wait("CUSTOMER_MESSAGE", (c) => c.data.body.markdownText === "marker");
  assert.equal(customer.events.some((e) => e.cim.name === "WHISPER_MESSAGE"), false);

  // Refusals: errors event with a stable code, nothing stored.
  let bad = await emitAck(socket, "publishCimEvent", agentMessage(cv1, { type: "BUTTON", buttons: [1, 2, 3].map((i) => ({ title: `${i}`.repeat(7000) })) }));
  assert.equal(bad.code, "PAYLOAD_TOO_LARGE");
  assert.equal((await next(socket, "errors")).code, "PAYLOAD_TOO_LARGE");
  bad = await emitAck(socket, "publishCimEvent", agentMessage("nope", { type: "PLAIN", markdownText: "x" }));
  assert.equal(bad.code, "CONVERSATION_NOT_FOUND");
  assert.equal((await next(socket, "errors")).code, "CONVERSATION_NOT_FOUND");
  bad = await emitAck(socket, "publishCimEvent", { conversationId: cv1, cimEvent: { name: "AGENT_MESSAGE", data: { body: { type: "HOLOGRAM" } } } });
  assert.equal(bad.code, "INVALID_FIELD");
  assert.equal((await next(socket, "errors")).field, "cimEvent.data.body.type");
  const other = connect(t, url, auth(url, "a2"));
  await connected(other);
  bad = await emitAck(other, "publishCimEvent", { ...agentMessage(cv1, { type: "PLAIN", markdownText: "intruder" }), agentId: "a2" });
  assert.equal(bad.code, "NOT_PARTICIPANT");
  const badHTTP = await http(`${url}/v1/conversations/${cv1}/messages`, "POST", { body: { type: "PLAIN" } });
  assert.equal(badHTTP.body.error.code, "MISSING_FIELD");
  // The stream is ordered: once a message sent after the refusals is in,
  // a refused one that had been stored would be too.
  await http(`${url}/v1/conversations/${cv1}/messages`, "POST", { body: { type: "PLAIN", markdownText: "after the refusals" } });
  await customer.wait("CUSTOMER_MESSAGE", (c) => c.data.body.markdownText === "after the refusals");
  assert.equal(customer.events.some((e) => JSON.stringify(e.cim).includes("intruder")), false);

  // The customer leaves: CUSTOMER_LEFT reaches the agent.
  const left = await http(`${url}/v1/conversations/${cv1}/customer-left`, "POST");
  assert.equal(left.status, 200);
  await next(socket, "onCimEvent", (p) => p.cimEvent.name === "CUSTOMER_LEFT");
});

test("the transcript comes back whole in onTopicData after a reconnect", async (t) => {
  const url = await startServer(t);
  const { socket, taskId, conv: cv2 } = await activeChat(t, url, "a1");
  await emitAck(socket, "publishCimEvent", agentMessage(cv2, { type: "PLAIN", markdownText: "one" }));
  await http(`${url}/v1/conversations/${cv2}/messages`, "POST", { body: { type: "PLAIN", markdownText: "two" } });
  await emitAck(socket, "publishCimEvent", { conversationId: cv2, cimEvent: { name: "WHISPER_MESSAGE", data: { body: { type: "PLAIN", markdownText: "three" } } } });
  await next(socket, "onCimEvent", (p) => p.cimEvent.name === "WHISPER_MESSAGE");
  socket.close();

  const again = connect(t, url, auth(url, "a1"));
  await connected(again);
  await next(again, "agentPresence");
  assert.equal((await emitAck(again, "topicSubscription", { conversationId: cv2, taskId })).ok, true);
  const data = await next(again, "onTopicData");
  const texts = data.topicData.topicEvents.filter((e) => e.type === "MESSAGE").map((e) => e.data.body.markdownText);
  assert.deepEqual(texts, ["one", "two", "three"]);
  const names = data.topicData.topicEvents.map((e) => e.name);
  assert.ok(names.includes("AGENT_SUBSCRIBED"), names.join());
  assert.ok(names.includes("TASK_STATE_CHANGED"), names.join());
});

test("grace period: a reconnect inside it keeps everything; after it the agent is NOT_READY DISCONNECTED and the offer is re-routed", async (t) => {
  const url = await startServer(t);
  const a1 = connect(t, url, auth(url, "a1"));
  await connected(a1);
  await next(a1, "agentPresence");
  await emitAck(a1, "changeAgentState", agentState("a1", "READY"));
  const g1 = (await http(`${url}/v1/conversations`, "POST", { queue: "chat" })).body.id;
  const offer = await next(a1, "taskRequest");

  // Drop and come back within the grace period (once the server has seen
  // the drop: the grace runs): still READY, offer re-sent.
  const dropped = Date.now();
  a1.close();
  await waitGraces(url, 1, "the grace after a1's drop");
  const back = connect(t, url, auth(url, "a1"));
  await connected(back);
  const pres = await next(back, "agentPresence");
  assert.equal(pres.state.name, "READY");
  assert.equal((await next(back, "taskRequest")).taskId, offer.taskId);
  await waitGraces(url, 0, "the grace after a1's return");
  // Nothing happens when the grace would have ended. No event marks an
  // expiry that did not happen, so this wait is a window of time: until
  // half a grace after the end of the grace the drop started.
  await sleep(dropped + GRACE_MS * 1.5 - Date.now());
  let st = await agentView(url, "a1");
  assert.equal(st.status.state, "READY");

  // Drop for good: after the grace period the offer goes to a2.
  const a2 = connect(t, url, auth(url, "a2"));
  await connected(a2);
  await emitAck(a2, "changeAgentState", agentState("a2", "READY"));
  back.close();
  const rerouted = await next(a2, "taskRequest", (p) => p.conversationId === g1);
  assert.notEqual(rerouted.taskId, offer.taskId);
  st = await agentView(url, "a1");
  assert.equal(st.status.state, "NOT_READY");
  assert.equal(st.status.reasonCode, "DISCONNECTED");
  assert.equal(st.tasks.length, 0);
});

test("supervisors: whispers reach agents and supervisors only, role rules, joinAsWhisper, barge-in reaches the customer, logout leaves", async (t) => {
  const url = await startServer(t);
  const { socket: a1, conv: cv1 } = await activeChat(t, url, "a1");
  const customer = customerStream(t, url, cv1);
  await customer.wait("AGENT_SUBSCRIBED");
  // One at a time: connected() listens for the next "connect" only.
  const s1 = connect(t, url, auth(url, "s1"));
  await connected(s1, "s1 connect");
  const s3 = connect(t, url, auth(url, "s3"));
  await connected(s3, "s3 connect");

  // s1 (team sales) joins silently, s3 (team sales) as WHISPER with the
  // PROTOCOLS.md shape of joinAsWhisper.
  assert.deepEqual(await emitAck(s1, "JoinAsSilentMonitor", { agentId: "s1", topicParticipant: { topicId: cv1 }, channelSession: { conversationId: cv1 } }), { ok: true });
  assert.equal((await next(s1, "onTopicData", (d) => d.conversationId === cv1)).topicData.topicParticipant.role, "SILENT_MONITOR");
  assert.deepEqual(await emitAck(s3, "joinAsWhisper", { participantId: `${cv1}:s3`, conversationId: cv1, roomInfo: { id: cv1, mode: "CONTACT_CENTER" } }), { ok: true });
  const td = await next(s3, "onTopicData", (d) => d.conversationId === cv1);
  assert.equal(td.topicData.topicParticipant.role, "WHISPER");
  assert.equal(td.topicData.topicParticipant.id, `${cv1}:s3`);
  // s2 (team support) may not whisper in a sales conversation.
  const s2 = connect(t, url, auth(url, "s2"));
  await connected(s2, "s2 connect");
  assert.equal((await emitAck(s2, "joinAsWhisper", { conversationId: cv1 })).code, "TEAM_MISMATCH");
  assert.equal((await next(s2, "errors")).code, "TEAM_MISMATCH");

  // The silent monitor whispers: a1, s1 (echo) and s3 get onCimEvent.
  const whisper = (who, text) => ({ agentId: who, conversationId: cv1, cimEvent: { name: "WHISPER_MESSAGE", type: "MESSAGE", data: { body: { type: "PLAIN", markdownText: text } } } });
  assert.deepEqual(await emitAck(s1, "publishCimEvent", whisper("s1", "offer 10%")), { ok: true });
  for (const [who, sock] of [["a1", a1], ["s1", s1], ["s3", s3]]) {
    const ev = await next(sock, "onCimEvent", (p) => p.cimEvent.name === "WHISPER_MESSAGE" && p.cimEvent.data.body.markdownText === "offer 10%", `${who} whisper`);
    assert.equal(ev.cimEvent.data.header.sender.id, "s1");
  }
  assert.deepEqual(await emitAck(s3, "publishCimEvent", whisper("s3", "ask for the order id")), { ok: true });
  await next(a1, "onCimEvent", (p) => p.cimEvent.data.body?.markdownText === "ask for the order id", "a1 whisper from s3");

  // Anything else from SILENT_MONITOR or WHISPER: ROLE_NOT_ALLOWED, nothing stored.
  for (const [who, sock] of [["s1", s1], ["s3", s3]]) {
    const ack = await emitAck(sock, "publishCimEvent", { agentId: who, conversationId: cv1, cimEvent: { name: "AGENT_MESSAGE", type: "MESSAGE", data: { body: { type: "PLAIN", markdownText: `forbidden from ${who}` } } } });
    assert.equal(ack.code, "ROLE_NOT_ALLOWED");
    const err = await next(sock, "errors");
    assert.equal(err.code, "ROLE_NOT_ALLOWED");
    assert.equal(err.event, "publishCimEvent");
  }
  // a1's socket is ordered: once a whisper sent after the refusals is in,
  // a refused message that had been delivered would be too.
  assert.deepEqual(await emitAck(s1, "publishCimEvent", whisper("s1", "after the refusals")), { ok: true });
  await next(a1, "onCimEvent", (p) => p.cimEvent.data.body?.markdownText === "after the refusals", "a1 whisper after the refusals");
  assert.equal(a1.received.some((r) => JSON.stringify(r.args[0]).includes("forbidden from")), false);
  // Barge in: s1's AGENT_MESSAGE reaches a1 and the customer.
  assert.deepEqual(await emitAck(s1, "JoinAsBargeIn", { participantId: `${cv1}:s1`, conversationId: cv1, roomInfo: { id: cv1 } }), { ok: true });
  await next(a1, "onCimEvent", (p) => p.cimEvent.name === "PARTICIPANT_ROLE_CHANGED" && p.cimEvent.data.role === "BARGE_IN");
  assert.deepEqual(await emitAck(s1, "publishCimEvent", { agentId: "s1", conversationId: cv1, cimEvent: { name: "AGENT_MESSAGE", type: "MESSAGE", data: { body: { type: "PLAIN", markdownText: "supervisor here" } } } }), { ok: true });
  await next(a1, "onCimEvent", (p) => p.cimEvent.data.body?.markdownText === "supervisor here");
  const seen = await customer.wait("AGENT_MESSAGE", (c) => c.data.body.markdownText === "supervisor here");
  assert.equal(seen.cim.data.header.sender.id, "s1");
  // The stream is ordered: everything before the barge-in message is in,
  // and the customer saw no whisper, no refused message and no supervisor event.
  assert.equal(customer.events.some((e) => e.cim.name === "WHISPER_MESSAGE"), false);
  assert.equal(customer.events.some((e) => JSON.stringify(e.cim).includes("forbidden from")), false);
  assert.equal(customer.events.some((e) => e.cim.name === "PARTICIPANT_ROLE_CHANGED" || (e.cim.name === "AGENT_SUBSCRIBED" && e.cim.data.agentId !== "a1")), false);

  // s3 logs in and out: it leaves cv1 (topicUnsubscription AGENT_LOGOUT), a1 sees it go.
  assert.equal((await emitAck(s3, "changeAgentState", agentState("s3", "READY"))).ok, true);
  assert.equal((await emitAck(s3, "changeAgentState", agentState("s3", "LOGOUT"))).ok, true);
  const left = await next(s3, "topicUnsubscription", (u) => u.conversationId === cv1);
  assert.equal(left.reason, "AGENT_LOGOUT");
  await next(a1, "onCimEvent", (p) => p.cimEvent.name === "AGENT_UNSUBSCRIBED" && p.cimEvent.data.agentId === "s3");
  assert.equal((await emitAck(s3, "publishCimEvent", whisper("s3", "still here?"))).code, "NOT_PARTICIPANT");
});
