// desk.mjs: socket.io-client 4.4.0 helpers for the Agent Desk (package
// agentdesk) e2e tests: connect and record every event, wait for events,
// acks and connection outcomes (every wait has a timeout), and log in the
// agents of the desk fixture (lib/deskfixture.mjs: tokens minted by the
// real server).
import { io } from "socket.io-client";
import { tokenOf } from "./deskfixture.mjs";

export const STEP_TIMEOUT_MS = 10_000;

// connect opens a socket the way the guide shows (path + auth.agent +
// auth.fcm) and records every event it receives.
export function connect(t, url, auth, opts = {}) {
  const socket = io(url, { path: "/socket.io", forceNew: true, reconnection: false, auth, ...opts });
  socket.received = [];
  socket.waiters = new Set();
  socket.onAny((event, ...args) => {
    socket.received.push({ event, args, consumed: false });
    for (const w of socket.waiters) w();
  });
  t.after(() => socket.close());
  return socket;
}

// next resolves with the first payload of `event` not yet consumed that
// satisfies pred (events that arrived earlier count), or rejects after
// STEP_TIMEOUT_MS.
export function next(socket, event, pred = () => true, label = event) {
  return new Promise((resolve, reject) => {
    const scan = () => {
      for (const r of socket.received) {
        if (!r.consumed && r.event === event && pred(r.args[0])) {
          r.consumed = true;
          return r.args[0];
        }
      }
      return undefined;
    };
    const found = scan();
    if (found !== undefined) return resolve(found);
    const waiter = () => {
      const v = scan();
      if (v !== undefined) {
        clearTimeout(timer);
        socket.waiters.delete(waiter);
        resolve(v);
      }
    };
    const timer = setTimeout(() => {
      socket.waiters.delete(waiter);
      const seen = socket.received.map((r) => `${r.event}${r.consumed ? "(consumed)" : ""} ${JSON.stringify(r.args[0])}`);
      reject(new Error(`${label}: no matching "${event}" within ${STEP_TIMEOUT_MS} ms; received:\n  ${seen.join("\n  ")}`));
    }, STEP_TIMEOUT_MS);
    socket.waiters.add(waiter);
  });
}

// none rejects if an unconsumed `event` arrives within ms.
export function none(socket, event, ms) {
  return new Promise((resolve, reject) => {
    const check = () => socket.received.find((r) => !r.consumed && r.event === event);
    if (check()) return reject(new Error(`unexpected ${event}: ${JSON.stringify(check().args[0])}`));
    const waiter = () => {
      const r = check();
      if (r) {
        clearTimeout(timer);
        socket.waiters.delete(waiter);
        reject(new Error(`unexpected ${event}: ${JSON.stringify(r.args[0])}`));
      }
    };
    const timer = setTimeout(() => {
      socket.waiters.delete(waiter);
      resolve();
    }, ms);
    socket.waiters.add(waiter);
  });
}

export function connected(socket, label = "connect") {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${label}: not connected within ${STEP_TIMEOUT_MS} ms`)), STEP_TIMEOUT_MS);
    socket.once("connect", () => {
      clearTimeout(timer);
      resolve();
    });
    socket.once("connect_error", (err) => {
      clearTimeout(timer);
      reject(new Error(`${label}: connect_error ${err.message} ${JSON.stringify(err.data)}`));
    });
  });
}

export function connectError(socket, label = "connect_error") {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${label}: no connect_error within ${STEP_TIMEOUT_MS} ms`)), STEP_TIMEOUT_MS);
    socket.once("connect", () => {
      clearTimeout(timer);
      reject(new Error(`${label}: connected although it must be refused`));
    });
    socket.once("connect_error", (err) => {
      clearTimeout(timer);
      resolve(err);
    });
  });
}

// emitAck emits with an acknowledgement callback and resolves with its
// first argument.
export function emitAck(socket, event, payload) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${event}: no ack within ${STEP_TIMEOUT_MS} ms`)), STEP_TIMEOUT_MS);
    socket.emit(event, payload, (ack) => {
      clearTimeout(timer);
      resolve(ack);
    });
  });
}

// login connects agent `id` of the desk fixture (with the token startDesk
// minted on the server at url) and resolves with the socket once connected
// and its first agentPresence arrived.
export async function login(t, url, id, opts = {}) {
  const socket = connect(t, url, { agent: id, fcm: "", token: tokenOf(url, id) }, opts);
  await connected(socket, `${id} connect`);
  const presence = await next(socket, "agentPresence", (p) => p.agent.id === id, `${id} presence on connect`);
  return { socket, presence };
}

export const agentState = (agentId, name, reasonCode = null) => ({ agentId, action: "agentState", state: { name, reasonCode } });
export const mrdState = (agentId, mrdId, state) => ({ agentId, action: "agentMRDState", state, mrdId });
export const isState = (name) => (p) => p.state.name === name;
