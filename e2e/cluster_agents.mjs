// cluster_agents.mjs: agent desks for the cluster end-to-end test
// (server/cluster_e2e_test.go), on the official socket.io-client 4.4.0.
//
// Each agent of AGENTS (JSON: [{"id","token"}]) connects to one of the
// nodes of URLS (comma-separated), agent i to node i mod n, goes READY and
// accepts every taskRequest (topicSubscription). When its connection drops
// (its node was killed) it reconnects to the next node after 200 ms, as a
// desk behind a load balancer would, with the same token. Every step is
// printed as one JSON line on stdout for the Go test:
//
//	{"ev":"connected","agent":"alice","url":"http://...","presence":"READY"}
//	{"ev":"offer","agent":"alice","task":"task-7","conversation":"c1","request":"r1"}
//	{"ev":"accepted","agent":"alice","task":"task-7","ok":true}
//	{"ev":"disconnected","agent":"alice","url":"http://...","reason":"transport close"}
//
// It runs until stdin ends.
import { io } from "socket.io-client";

const urls = process.env.URLS.split(",");
const agents = JSON.parse(process.env.AGENTS);
const out = (o) => process.stdout.write(JSON.stringify({ ...o, at: Date.now() }) + "\n");
let stopping = false;
const sockets = new Set();

function emitAck(socket, event, payload, ms = 10_000) {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve({ ok: false, error: "no ack" }), ms);
    socket.emit(event, payload, (ack) => {
      clearTimeout(timer);
      resolve(ack);
    });
  });
}

function run(agent, node) {
  if (stopping) return;
  const url = urls[node % urls.length];
  const socket = io(url, {
    path: "/socket.io",
    forceNew: true,
    reconnection: false,
    transports: ["websocket"],
    auth: { agent: agent.id, fcm: "", token: agent.token },
    timeout: 5_000,
  });
  sockets.add(socket);
  let again = false;
  const retry = (why) => {
    if (again) return;
    again = true;
    sockets.delete(socket);
    socket.close();
    out({ ev: "disconnected", agent: agent.id, url, reason: String(why) });
    setTimeout(() => run(agent, node + 1), 200);
  };
  socket.on("connect_error", (err) => retry("connect_error " + err.message));
  socket.on("disconnect", (reason) => retry(reason));
  socket.once("agentPresence", async (p) => {
    const ack = await emitAck(socket, "changeAgentState", { agentId: agent.id, action: "agentState", state: { name: "READY", reasonCode: null } });
    out({ ev: "connected", agent: agent.id, url, presence: p.state && p.state.name, ready: (ack && ack.ok === true) || (p.state && p.state.name === "READY") });
  });
  // A RONA (an offer that reached no desk while its node died) or a
  // disconnect timeout makes the agent NOT_READY: a person would click
  // READY again, and so does this desk.
  socket.on("agentPresence", (p) => {
    if (p.agent && p.agent.id === agent.id && p.state && p.state.name === "NOT_READY") {
      socket.emit("changeAgentState", { agentId: agent.id, action: "agentState", state: { name: "READY", reasonCode: null } });
      out({ ev: "ready-again", agent: agent.id, url, reason: p.state.reasonCode && p.state.reasonCode.name });
    }
  });
  socket.on("taskRequest", async (r) => {
    out({ ev: "offer", agent: agent.id, task: r.taskId, conversation: r.conversationId, request: r.correlationId });
    const ack = await emitAck(socket, "topicSubscription", {
      topicParticipant: { type: "AGENT", participant: { id: agent.id }, role: "PRIMARY", state: "SUBSCRIBED", topicId: r.conversationId, token: null, userCredentials: null },
      conversationId: r.conversationId,
      agentId: agent.id,
      taskId: r.taskId,
      roomInfo: r.roomInfo,
    });
    out({ ev: "accepted", agent: agent.id, task: r.taskId, ok: ack && ack.ok === true, error: ack && ack.ok !== true ? JSON.stringify(ack) : undefined });
  });
}

agents.forEach((a, i) => run(a, i));
process.stdin.resume();
process.stdin.on("end", () => {
  stopping = true;
  for (const s of sockets) s.close();
  setTimeout(() => process.exit(0), 100);
});
