// deskfixture.mjs: the agent desk suites' fixture (e2e/agentdesk*.test.mjs)
// as a configuration of the real server, and the REST calls those suites
// make. startDesk writes the configuration into a fresh directory, runs
// `omniroute serve` on it (lib/server.mjs startOmniroute) and mints every
// fixture agent's desk token with the admin API (POST /v1/agents/{id}/token),
// so that tokenOf(url, id) and lib/desk.mjs login() can use it.
//
//   MRDs:         chat (maxRequests 2, interruptible), voice (maxRequests 1, not interruptible)
//   Reason codes: lunch (NOT_READY "Lunch Break"), eod (LOGOUT "End of day"); RONA is built in
//   Queues:       chat (chat, RONA 30 s), chat-rona (chat, RONA 0.3 s), voice (voice),
//                 chat-wrap (chat, RONA 30 s, wrap-up 60 s),
//                 support (chat, members a2 a3, RONA 0.3 s, TTL 1 s)
//   Agents:       a1, a2, a3 ("Agent One".."Agent Three", skill english 5), all LOGOUT;
//                 teams: a1, a2 "sales", a3 "support"
//   Supervisors:  s1 (team sales), s2 (team support), s3 (team sales): role supervisor, no
//                 capacity on any MRD (they are never offered work), LOGOUT
import assert from "node:assert/strict";
import { dataDir, startOmniroute } from "./server.mjs";

export const ADMIN_TOKEN = "e2e-admin-token-0123456789";
// TOKEN_SECRET signs agent tokens; a second server with the same secret
// (unknownAgentToken) mints a token this one verifies.
const TOKEN_SECRET = "e2e-desk-token-secret-0123456789abcdef";

export const AGENTS = ["a1", "a2", "a3"];
export const SUPERVISORS = ["s1", "s2", "s3"];

const MRDS = `
mrds:
  - {id: chat, name: Chat, description: Web chat, interruptible: true, maxRequests: 2}
  - {id: voice, name: Voice, description: Telephony, interruptible: false, maxRequests: 1}
`;

// deskConfig is the fixture's YAML; graceSeconds, when given, is
// agentDesk.disconnectGraceSeconds; extra is appended (more agents).
export function deskConfig({ graceSeconds, agents = "" } = {}) {
  return `
auth:
  adminTokens: ["${ADMIN_TOKEN}"]
  tokenSecret: "${TOKEN_SECRET}"
${graceSeconds === undefined ? "" : `agentDesk:\n  disconnectGraceSeconds: ${graceSeconds}\n`}${MRDS}
reasonCodes:
  - {id: lunch, name: Lunch Break, type: NOT_READY}
  - {id: eod, name: End of day, type: LOGOUT}
queues:
  - {id: chat, name: Chat Sales, mrd: chat, ronaTimeoutSeconds: 30}
  - {id: chat-rona, name: Chat RONA, mrd: chat, ronaTimeoutSeconds: 0.3}
  - {id: voice, name: Voice Support, mrd: voice}
  - {id: chat-wrap, name: Chat Wrap-up, mrd: chat, ronaTimeoutSeconds: 30, wrapUpSeconds: 60}
  - {id: support, name: Chat Support, mrd: chat, ronaTimeoutSeconds: 0.3, ttlSeconds: 1, members: [a2, a3]}
agents:
  - {id: a1, name: Agent One, skills: {english: 5}, teams: [sales]}
  - {id: a2, name: Agent Two, skills: {english: 5}, teams: [sales]}
  - {id: a3, name: Agent Three, skills: {english: 5}, teams: [support]}
  - {id: s1, name: Supervisor 1, role: supervisor, teams: [sales], capacity: {chat: 0, voice: 0}}
  - {id: s2, name: Supervisor 2, role: supervisor, teams: [support], capacity: {chat: 0, voice: 0}}
  - {id: s3, name: Supervisor 3, role: supervisor, teams: [sales], capacity: {chat: 0, voice: 0}}
${agents}`;
}

// tokens: server URL -> agent id -> desk token.
const tokens = new Map();

// tokenOf is agent id's desk token on the server at url (startDesk minted it).
export function tokenOf(url, id) {
  const tok = tokens.get(url)?.[id];
  assert.ok(tok, `no token of ${id} on ${url}`);
  return tok;
}

// api calls the server's REST API with the admin token; resolves with
// {status, body} (body parsed, null when empty).
export async function api(url, method, route, body) {
  const headers = { authorization: `Bearer ${ADMIN_TOKEN}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(url + route, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

async function mint(url, id) {
  const res = await api(url, "POST", `/v1/agents/${id}/token`);
  assert.equal(res.status, 200, `token of ${id}: ${JSON.stringify(res.body)}`);
  return res.body.token;
}

// startDesk starts `omniroute serve` (binary) with deskConfig(opts) for
// test t, mints the fixture agents' tokens, and resolves with its URL.
export async function startDesk(t, binary, opts = {}) {
  const { url } = await startOmniroute(t, binary, dataDir(t, deskConfig(opts), { prefix: "omniroute-desk-e2e-" }));
  const own = {};
  for (const id of [...AGENTS, ...SUPERVISORS]) own[id] = await mint(url, id);
  tokens.set(url, own);
  return url;
}

// unknownAgentToken resolves with a valid desk token of agent id (signed
// with the fixture's secret) that no server of startDesk knows: a second
// server configured with that agent mints it, then stops.
export async function unknownAgentToken(t, binary, id) {
  const extra = `  - {id: ${id}, name: Agent ${id}, skills: {english: 5}, teams: [sales]}\n`;
  const other = await startOmniroute(t, binary, dataDir(t, deskConfig({ agents: extra }), { prefix: "omniroute-desk-e2e-" }));
  const tok = await mint(other.url, id);
  await other.stop();
  return tok;
}

// createConversation is POST /v1/conversations: resolves with {id, requestId}.
export async function createConversation(url, body) {
  const res = await api(url, "POST", "/v1/conversations", body);
  assert.equal(res.status, 201, `POST /v1/conversations: ${JSON.stringify(res.body)}`);
  return res.body;
}

// agentView is what the engine holds of agent id: {status} from GET
// /v1/agents/{id}/state (routing.AgentStatus) and {tasks} from GET
// /v1/tasks?agent=id (routing.Task).
export async function agentView(url, id) {
  const status = await api(url, "GET", `/v1/agents/${id}/state`);
  assert.equal(status.status, 200, JSON.stringify(status.body));
  const tasks = await api(url, "GET", `/v1/tasks?agent=${id}`);
  assert.equal(tasks.status, 200, JSON.stringify(tasks.body));
  return { status: status.body, tasks: tasks.body.items };
}

// setAgentState is PUT /v1/agents/{id}/state (a change from outside the desk).
export async function setAgentState(url, id, body) {
  const res = await api(url, "PUT", `/v1/agents/${id}/state`, body);
  assert.equal(res.status, 200, `PUT /v1/agents/${id}/state: ${JSON.stringify(res.body)}`);
  return res.body;
}
