// oidc.test.mjs: company logins over OpenID Connect, end to end. A real
// OpenID provider (npm oidc-provider) is started by the test; a user logs in
// through its authorization code flow with PKCE; `omniroute serve` (the real
// binary, OMNIROUTE_BIN) is configured with the provider as its issuer and
// checks the ID tokens on REST and on the Socket.IO auth of the agent desk:
// role mapping from realm_access.roles, key rotation (a new key id is
// fetched from the JWKS), expiry, and a token of another issuer refused.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import readline from "node:readline";
import { startProvider, signingKey, idToken, CLIENT_ID } from "./lib/oidc.mjs";
import { connect, connected, connectError } from "./lib/desk.mjs";
import { newCometD, cometdHandshake, waitFor, withTimeout } from "./lib/cometd.mjs";

const bin = process.env.OMNIROUTE_BIN;

const roles = { alice: ["agent"], sam: ["agent", "supervisor"], root: ["cc-admin"], mallory: ["visitor"] };

// serve starts `omniroute serve` with a config trusting issuer (more: YAML
// lines added to the issuer's entry) and resolves with its URL. bob is a
// local login (bob-pass).
async function serve(t, issuer, more = "") {
  const dir = mkdtempSync(path.join(tmpdir(), "omniroute-oidc-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const cfg = path.join(dir, "omniroute.yaml");
  writeFileSync(cfg, `
server: {listen: "127.0.0.1:0", dataDir: "${path.join(dir, "data")}"}
auth:
  adminTokens: ["${"x".repeat(40)}"]
  oidc:
    - issuer: "${issuer}"
      audience: ${CLIENT_ID}
      agentClaim: preferred_username
      rolesClaim: realm_access.roles
      agentRoles: [agent]
      supervisorRoles: [supervisor]
      adminRoles: [cc-admin]
${more}
mrds: [{id: chat, name: Chat, maxRequests: 3}]
queues:
  - {id: support, name: Support, mrd: chat}
  - {id: ext, name: External, mrd: chat, mode: external}
agents:
  - {id: alice, name: Alice, role: agent}
  - {id: sam, name: Sam, role: supervisor}
  - {id: mallory, name: Mallory, role: agent}
  - {id: bob, name: Bob, role: agent, username: bob, passwordHash: "$2a$10$hHs4QrF2i0QVDzddQ2quE.qvYMNp2wxkXYidhkU3l/1UmvV/zjzr6"}
`);
  const child = spawn(bin, ["serve", "--config", cfg], { stdio: ["ignore", "pipe", "inherit"] });
  t.after(() => child.kill("SIGTERM"));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("omniroute did not start")), 30_000);
    child.once("exit", (code) => reject(new Error(`omniroute exited with ${code}`)));
    readline.createInterface({ input: child.stdout }).on("line", (line) => {
      const m = /^omniroute listening on (\S+)$/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
  });
}

async function get(url, route, token) {
  const res = await fetch(url + route, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { status: res.status, body: await res.json().catch(() => null) };
}

test("OpenID Connect: login, roles, Socket.IO, rotation, expiry, other issuer", { skip: !bin && "OMNIROUTE_BIN not set" }, async (t) => {
  const idp = await startProvider(t, roles, [signingKey("k1")]);
  const other = await startProvider(t, roles, [signingKey("other")]);
  const url = await serve(t, idp.issuer);

  // Login through the provider; the ID token is the bearer token.
  const alice = await idToken(idp.issuer, "alice");
  let r = await get(url, "/v1/me", alice);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual({ kind: r.body.kind, agentId: r.body.agentId, issuer: r.body.issuer, supervisor: r.body.supervisor ?? false },
    { kind: "agent", agentId: "alice", issuer: idp.issuer, supervisor: false });
  assert.equal((await get(url, "/v1/agents/alice/state", alice)).status, 200);
  const put = await fetch(`${url}/v1/agents/sam/state`, { method: "PUT", body: JSON.stringify({ state: "READY" }),
    headers: { authorization: `Bearer ${alice}`, "content-type": "application/json" } });
  assert.equal(put.status, 403, "an agent sets another agent's state");

  // Role mapping: supervisor and admin from realm_access.roles; no agent
  // role, no entry.
  r = await get(url, "/v1/me", await idToken(idp.issuer, "sam"));
  assert.equal(r.body.supervisor, true, JSON.stringify(r.body));
  const root = await idToken(idp.issuer, "root");
  r = await get(url, "/v1/me", root);
  assert.equal(r.body.kind, "admin", JSON.stringify(r.body));
  const mint = (token) => fetch(`${url}/v1/agents/alice/token`, { method: "POST", headers: { authorization: `Bearer ${token}` } });
  assert.equal((await mint(root)).status, 200, "an admin by role mints a token");
  assert.equal((await mint(alice)).status, 403, "an agent mints a token");
  assert.equal((await get(url, "/v1/me", await idToken(idp.issuer, "mallory"))).status, 401, "a token without the agent role");

  // Socket.IO: the agent desk connects with the ID token in auth.token.
  const desk = connect(t, url, { token: alice, agent: "alice", fcm: "" });
  await connected(desk);
  desk.close();

  // The CRM connector page: a ticket minted with alice's OpenID token
  // opens a session that hands that token back.
  let res = await fetch(`${url}/v1/tickets`, { method: "POST", body: JSON.stringify({ scope: "crm-connector" }),
    headers: { authorization: `Bearer ${alice}`, "content-type": "application/json" } });
  assert.equal(res.status, 201);
  const { ticket } = await res.json();
  res = await fetch(`${url}/presencesync/crm/session`, { method: "POST", body: JSON.stringify({ ticket }),
    headers: { "content-type": "application/json" } });
  const session = await res.json();
  assert.equal(res.status, 200, JSON.stringify(session));
  assert.deepEqual({ token: session.token, agent: session.agent }, { token: alice, agent: "alice" });

  // Another issuer, same claims: refused on REST and on the socket.
  const forged = await idToken(other.issuer, "alice");
  assert.equal((await get(url, "/v1/me", forged)).status, 401, "a token of an issuer not configured");
  const err = await connectError(connect(t, url, { token: forged, agent: "alice", fcm: "" }));
  assert.equal(err.data?.code, "UNAUTHORIZED");

  // Key rotation: the provider now signs with k2 (k1 still published);
  // omniroute has only k1 cached and fetches the JWKS again for the new
  // key id.
  idp.rotate([signingKey("k2"), signingKey("k1-retired")]);
  const rotated = await idToken(idp.issuer, "alice");
  assert.equal(JSON.parse(Buffer.from(rotated.split(".")[0], "base64url")).kid, "k2");
  assert.equal((await get(url, "/v1/me", rotated)).status, 200, "a token signed with the rotated key");
  // A token signed by the retired k1 is refused now that the provider no
  // longer publishes it.
  assert.equal((await get(url, "/v1/me", alice)).status, 401, "a token signed by a key the issuer dropped");

  // Expiry: a token valid 5 s works, then is refused. (Five, not fewer:
  // on a loaded machine minting and the first use may be a second apart.)
  idp.setIdTokenTTL(5);
  const short = await idToken(idp.issuer, "alice");
  assert.equal((await get(url, "/v1/me", short)).status, 200);
  await new Promise((res) => setTimeout(res, 6100)); // the token's lifetime is what is tested
  assert.equal((await get(url, "/v1/me", short)).status, 401, "an expired token");
  const expired = await connectError(connect(t, url, { token: short, agent: "alice", fcm: "" }));
  assert.equal(expired.data?.code, "UNAUTHORIZED");
});

async function login(url, username, password) {
  const res = await fetch(`${url}/agent-manager/agent/login`, { method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ username, password }) });
  return { status: res.status, body: await res.json() };
}

test("OpenID Connect: password pass-through at the agent login", { skip: !bin && "OMNIROUTE_BIN not set" }, async (t) => {
  const idp = await startProvider(t, { ...roles, bob: ["agent"] }, [signingKey("pw")]);
  const url = await serve(t, idp.issuer, "      passwordGrant: true");

  // A user of the provider logs in with a password; the answer is the
  // local login's shape with the provider's ID token, which works as a
  // bearer token and in the desk's Socket.IO auth (auth.agent, as an
  // ExpertFlow desk connects).
  let r = await login(url, "sam", "sam-pass");
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const { token, agentId, keycloak_User: user } = r.body.data;
  assert.equal(agentId, "sam");
  assert.deepEqual(user.roles, ["agent", "supervisor"]);
  assert.equal(user.token, token);
  assert.equal(JSON.parse(Buffer.from(token.split(".")[1], "base64url")).iss, idp.issuer, "the provider's token");
  const me = await get(url, "/v1/me", token);
  assert.deepEqual({ agentId: me.body.agentId, issuer: me.body.issuer, supervisor: me.body.supervisor },
    { agentId: "sam", issuer: idp.issuer, supervisor: true });
  const desk = connect(t, url, { agent: user, fcm: "" });
  await connected(desk);
  desk.close();

  // A local login is checked locally (the provider also knows bob, with
  // the same password, but is not asked: the token is omniroute's own).
  r = await login(url, "bob", "bob-pass");
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.ok(r.body.data.refresh_token, "a local login has a refresh token");
  assert.equal(r.body.data.token.split(".").length, 2, "omniroute's own token");

  // A wrong password at the provider is answered as a wrong local one;
  // a user without the agent role is refused likewise.
  const wrongLocal = await login(url, "bob", "nope");
  const wrongIdp = await login(url, "alice", "nope");
  assert.equal(wrongIdp.status, 401);
  assert.deepEqual(wrongIdp.body, wrongLocal.body);
  assert.deepEqual(await login(url, "mallory", "mallory-pass"), wrongLocal, "no agent role");

  // Backoff: after 5 wrong passwords even the right one is held back,
  // before the provider is asked.
  for (let i = 0; i < 5; i++) assert.equal((await login(url, "alice", "nope")).status, 401);
  r = await login(url, "alice", "alice-pass");
  assert.equal(r.status, 429, JSON.stringify(r.body));

  // The provider down: 503 with a stable code.
  idp.stop();
  r = await login(url, "root", "root-pass");
  assert.equal(r.status, 503, JSON.stringify(r.body));
  assert.equal(r.body.error.code, "IDENTITY_PROVIDER_UNAVAILABLE");
});

// cometdRefusal handshakes on endpoint with token and resolves with the
// refusal's error ("401::..."), failing if the handshake succeeds.
async function cometdRefusal(t, endpoint, token) {
  const cometd = newCometD(t, endpoint, "long-polling", { requestHeaders: { Authorization: `Bearer ${token}` } });
  try {
    await cometdHandshake(cometd);
  } catch (err) {
    if (!err.reply) throw err;
    cometd.disconnect();
    return err.reply.error;
  }
  throw new Error("the handshake succeeded");
}

test("OpenID Connect: partner CometD streaming with an admin token", { skip: !bin && "OMNIROUTE_BIN not set" }, async (t) => {
  const idp = await startProvider(t, roles, [signingKey("cd")]);
  const other = await startProvider(t, roles, [signingKey("other-cd")]);
  const url = await serve(t, idp.issuer);
  const endpoint = `${url}/cometd/59.0`;
  const channel = "/topic/PendingServiceRoutingTopic";

  // An admin by role streams the PSR events as a partner does (the
  // official CometD client, the token in the Authorization header).
  const root = await idToken(idp.issuer, "root");
  const cometd = newCometD(t, endpoint, "long-polling", { requestHeaders: { Authorization: `Bearer ${root}` } });
  const hs = await cometdHandshake(cometd, { ext: { replay: true } });
  assert.equal(hs.successful, true);
  const events = [];
  const sub = await withTimeout("subscribe", new Promise((resolve) => cometd.subscribe(channel, (m) => events.push(m.data), resolve)));
  assert.equal(sub.successful, true, JSON.stringify(sub));
  const res = await fetch(`${url}/v1/conversations`, { method: "POST", body: JSON.stringify({ queue: "ext", customer: { id: "cust-1" } }),
    headers: { authorization: `Bearer ${root}`, "content-type": "application/json" } });
  assert.equal(res.status, 201, await res.text());
  const ev = await waitFor("a PSR event", () => events.find((d) => d.event?.type === "created"));
  assert.ok(ev.sobject?.Id, JSON.stringify(ev));
  cometd.disconnect();

  // Refused: an agent's token, the same admin claims from another issuer.
  assert.match(await cometdRefusal(t, endpoint, await idToken(idp.issuer, "alice")), /^401::/, "an agent token");
  assert.match(await cometdRefusal(t, endpoint, await idToken(other.issuer, "root")), /^401::/, "another issuer's token");

  // Expiry: a 5 s admin token handshakes; once it expired the server ends
  // the session (the client's re-handshake with the same header is
  // refused) and a new handshake with it is refused.
  idp.setIdTokenTTL(5);
  const short = await idToken(idp.issuer, "root");
  const expiring = newCometD(t, endpoint, "long-polling", { requestHeaders: { Authorization: `Bearer ${short}` } });
  const handshakes = [];
  expiring.addListener("/meta/handshake", (m) => handshakes.push(m));
  await cometdHandshake(expiring);
  await waitFor("the session ended at the token's expiry", () => handshakes.some((m) => !m.successful && /^401::/.test(m.error)), 30_000);
  assert.match(await cometdRefusal(t, endpoint, short), /^401::/, "an expired admin token");
});
