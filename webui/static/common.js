// common.js: what every omniroute page shares. The token (an admin token, an
// agent token from the login, or an OpenID token from "Sign in with
// <issuer>") lives in sessionStorage; every call sends it as
// "Authorization: Bearer". Event streams are read with fetch, because
// EventSource cannot send that header.
//
// "Sign in with <issuer>" is the authorization code flow with PKCE (RFC 7636,
// S256): the page makes a code verifier (32 random bytes, base64url), its
// SHA-256 challenge and a state (16 random bytes), keeps them in
// sessionStorage ("omniroute.oidc", this tab only) and goes to the issuer's
// authorization endpoint (GET /ui/api/login-options names it). The issuer
// sends the browser back to /ui/oidc/callback (callback.js), which checks the
// state (and the iss parameter when the issuer sends one, RFC 9207), removes
// the pending record whatever happens, and has omniroute exchange the code
// (POST /ui/api/oidc/token); only a token omniroute verified is kept.
"use strict";

const omni = (() => {
  const KEY = "omniroute.token";
  const token = () => sessionStorage.getItem(KEY) || "";
  const setToken = (t) => (t ? sessionStorage.setItem(KEY, t) : sessionStorage.removeItem(KEY));
  const PENDING = "omniroute.oidc";
  const CALLBACK = "/ui/oidc/callback";

  // api calls the server and resolves with the parsed JSON body; an error
  // answer rejects with Error(code: message) and .status, .code set.
  async function api(method, path, body, headers = {}) {
    const h = { ...headers };
    if (token()) h.Authorization = "Bearer " + token();
    if (body !== undefined) h["Content-Type"] = "application/json";
    const res = await fetch(path, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    const json = text && res.headers.get("Content-Type")?.startsWith("application/json") ? JSON.parse(text) : text;
    if (!res.ok) {
      const e = new Error(json?.error ? `${json.error.code}: ${json.error.message}` : `HTTP ${res.status}`);
      e.status = res.status;
      e.code = json?.error?.code;
      throw e;
    }
    return json;
  }

  // login: a local user (username + password) gets an agent token; anything
  // typed in the token field is used as is (an admin token).
  async function login(username, password, adminToken) {
    if (adminToken) {
      setToken(adminToken);
    } else {
      const r = await api("POST", "/agent-manager/agent/login", { username, password });
      setToken(r.data.token);
    }
    try {
      return await api("GET", "/ui/api/me");
    } catch (e) {
      setToken("");
      throw e;
    }
  }

  // stream reads a Server-Sent Events response from path and calls
  // onEvent(name, data, id) for each event. It reconnects after a failure
  // (2 s) until stop() is called; onStatus(text) reports the connection.
  function stream(path, onEvent, onStatus = () => {}, headers = {}) {
    let stopped = false;
    let ctrl;
    (async () => {
      while (!stopped) {
        ctrl = new AbortController();
        try {
          const h = { ...headers };
          if (token()) h.Authorization = "Bearer " + token();
          const res = await fetch(path, { headers: h, signal: ctrl.signal });
          if (!res.ok) {
            const j = await res.json().catch(() => ({}));
            const e = new Error(j.error ? `${j.error.code}: ${j.error.message}` : `HTTP ${res.status}`);
            e.status = res.status;
            throw e;
          }
          onStatus("live");
          const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
          let buf = "";
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            buf += value;
            let i;
            while ((i = buf.indexOf("\n\n")) >= 0) {
              const block = buf.slice(0, i);
              buf = buf.slice(i + 2);
              let name = "message", data = "", id = "";
              for (const line of block.split("\n")) {
                if (line.startsWith("event: ")) name = line.slice(7);
                else if (line.startsWith("data: ")) data += line.slice(6);
                else if (line.startsWith("id: ")) id = line.slice(4);
              }
              if (data) onEvent(name, JSON.parse(data), id);
            }
          }
          onStatus("reconnecting");
        } catch (e) {
          if (stopped) return;
          onStatus(e.status === 401 || e.status === 403 ? "refused: " + e.message : "reconnecting: " + e.message);
          if (e.status === 401 || e.status === 403) return;
        }
        await new Promise((r) => setTimeout(r, 2000));
      }
    })();
    return { stop() { stopped = true; ctrl?.abort(); } };
  }

  // el builds an element: el("td", {class: "x"}, "text", child...).
  function el(tag, attrs = {}, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children.flat()) if (c !== undefined && c !== null) e.append(c);
    return e;
  }

  // duration formats seconds as m:ss or h:mm:ss.
  function duration(s) {
    s = Math.max(0, Math.floor(s));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    const two = (n) => String(n).padStart(2, "0");
    return h ? `${h}:${two(m)}:${two(sec)}` : `${m}:${two(sec)}`;
  }
  const pct = (v) => (v * 100).toFixed(1) + " %";

  const b64url = (bytes) => btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  const random = (n) => b64url(crypto.getRandomValues(new Uint8Array(n)));

  // startIssuerLogin sends the browser to issuer opt's authorization
  // endpoint (opt: an entry of GET /ui/api/login-options), remembering the
  // verifier, state and this page for the callback.
  async function startIssuerLogin(opt) {
    if (!window.isSecureContext || !crypto.subtle) throw new Error("signing in with the identity provider needs https");
    const verifier = random(32);
    const state = random(16);
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
    const redirectUri = location.origin + CALLBACK;
    sessionStorage.setItem(PENDING, JSON.stringify({ issuer: opt.issuer, state, verifier, redirectUri,
      returnTo: location.pathname + location.search }));
    const u = new URL(opt.authorizationEndpoint);
    const q = { response_type: "code", client_id: opt.clientId, redirect_uri: redirectUri, scope: opt.scopes.join(" "),
      code_challenge: b64url(new Uint8Array(digest)), code_challenge_method: "S256", state };
    for (const [k, v] of Object.entries(q)) u.searchParams.set(k, v);
    location.assign(u.href);
  }

  // safePath is p when it is a path of this origin, else "/".
  const safePath = (p) => (typeof p === "string" && p.startsWith("/") && !p.startsWith("//") && !p.startsWith("/\\") ? p : "/");

  // finishIssuerLogin runs on the callback page: it checks the answer
  // against the pending sign-in of this tab, has omniroute exchange the
  // code, keeps the token and resolves with the page to go back to. Any
  // refusal rejects with an Error whose .returnTo is that page; nothing is
  // kept then.
  async function finishIssuerLogin() {
    const q = new URLSearchParams(location.search);
    const raw = sessionStorage.getItem(PENDING);
    sessionStorage.removeItem(PENDING); // one answer per sign-in, whatever it is
    history.replaceState(null, "", location.pathname); // the code leaves the address bar
    let pending = null;
    try { pending = JSON.parse(raw); } catch { pending = null; }
    const returnTo = safePath(pending?.returnTo);
    const fail = (msg) => Object.assign(new Error(msg), { returnTo });
    if (q.get("error")) {
      throw fail(`the identity provider answered ${q.get("error")}${q.get("error_description") ? ": " + q.get("error_description") : ""}`);
    }
    if (!pending?.state || !pending.verifier) throw fail("no sign-in was started in this tab; start again from the page");
    if (q.get("state") !== pending.state) throw fail("the answer does not belong to the sign-in this tab started (state mismatch)");
    if (q.has("iss") && q.get("iss") !== pending.issuer) throw fail("the answer comes from another issuer than the one asked");
    if (!q.get("code")) throw fail("the identity provider's answer holds no code");
    setToken("");
    let r;
    try {
      r = await api("POST", "/ui/api/oidc/token", { issuer: pending.issuer, code: q.get("code"),
        code_verifier: pending.verifier, redirect_uri: pending.redirectUri });
    } catch (e) {
      throw fail(e.message);
    }
    setToken(r.token);
    return returnTo;
  }

  // issuerButtons adds a "Sign in with <name>" button to form for each
  // issuer of GET /ui/api/login-options (none when the call fails).
  async function issuerButtons(form, status) {
    let opts;
    try {
      opts = await api("GET", "/ui/api/login-options");
    } catch {
      return;
    }
    const submit = form.querySelector("button[type=submit]");
    for (const opt of opts.issuers ?? []) {
      const b = el("button", { type: "button", class: "issuer", "data-issuer": opt.issuer, onclick: async () => {
        status.textContent = "Going to " + opt.name + "…";
        try {
          await startIssuerLogin(opt);
        } catch (e) {
          status.textContent = "Sign-in failed: " + e.message;
        }
      } }, "Sign in with " + opt.name);
      submit.after(b);
    }
  }

  // loginForm wires a <form> with username, password and token fields;
  // onDone(me) runs after a good login, and at once when a token is kept.
  async function loginForm(form, onDone) {
    const status = form.querySelector("[role=status]");
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      status.textContent = "Signing in…";
      try {
        const me = await login(form.username.value.trim(), form.password.value, form.token.value.trim());
        status.textContent = "";
        form.hidden = true;
        onDone(me);
      } catch (e) {
        status.textContent = "Sign-in failed: " + e.message;
      }
    });
    if (token()) {
      try {
        const me = await api("GET", "/ui/api/me");
        form.hidden = true;
        onDone(me);
        return;
      } catch {
        setToken("");
      }
    }
    form.hidden = false;
    form.username.focus();
    await issuerButtons(form, status);
  }

  return { api, login, stream, el, duration, pct, token, setToken, loginForm, finishIssuerLogin };
})();
