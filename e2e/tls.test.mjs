// tls.test.mjs: TLS end to end. The Go launcher (server.TestTLSE2E) makes a
// test CA (internal/testca) and passes its files: NODE_EXTRA_CA_CERTS makes
// Node trust the CA, OMNIROUTE_TLS_CERT/KEY are the server's. `omniroute
// serve --tls-cert --tls-key` (the real binary, OMNIROUTE_BIN) then serves
// HTTPS only, and the official clients connect through it: fetch (the
// login), socket.io-client (polling and websocket), CometD (the GMS comet
// endpoint) and jsforce (the partner REST API).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import readline from "node:readline";
import jsforce from "jsforce";
import { connect, connected } from "./lib/desk.mjs";
import { newCometD, cometdHandshake } from "./lib/cometd.mjs";

const bin = process.env.OMNIROUTE_BIN;
const cert = process.env.OMNIROUTE_TLS_CERT;
const key = process.env.OMNIROUTE_TLS_KEY;

async function serveTLS(t) {
  const dir = mkdtempSync(path.join(tmpdir(), "omniroute-tls-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const child = spawn(bin, ["serve", "--listen", "127.0.0.1:0", "--data-dir", dir, "--tls-cert", cert, "--tls-key", key],
    { stdio: ["ignore", "pipe", "inherit"] });
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

test("TLS: fetch, socket.io-client, CometD and jsforce trust the test CA", { skip: !(bin && cert) && "not launched by server.TestTLSE2E" }, async (t) => {
  const url = await serveTLS(t);
  assert.match(url, /^https:\/\//);

  const login = await fetch(`${url}/agent-manager/agent/login`, { method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ username: "alice", password: "alice-pass" }) });
  assert.equal(login.status, 200);
  const token = (await login.json()).data.token;

  for (const transports of [["polling"], ["websocket"]]) {
    const desk = connect(t, url, { token, agent: "alice", fcm: "" }, { transports });
    await connected(desk, `socket.io over ${transports[0]}`);
    desk.close();
  }

  const cometd = newCometD(t, `${url}/genesys/cometd`, "long-polling", { requestHeaders: { gms_user: "tls-device" } });
  const reply = await cometdHandshake(cometd);
  assert.equal(reply.successful, true);

  const conn = new jsforce.Connection({ instanceUrl: url, accessToken: "dev-partner-token-0123456789", version: "41.0" });
  await assert.rejects(conn.request("/services/data/v41.0/sobjects/AgentWork/0Bz000000000000AAA"),
    (err) => err.errorCode === "NOT_FOUND" || /404/.test(String(err.message)), "jsforce reached the server over TLS");
});
