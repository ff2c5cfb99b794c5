// common.js: what every omniroute page shares. The token (an admin token or
// an agent token from the login) lives in sessionStorage; every call sends it
// as "Authorization: Bearer". Event streams are read with fetch, because
// EventSource cannot send that header.
"use strict";

const omni = (() => {
  const KEY = "omniroute.token";
  const token = () => sessionStorage.getItem(KEY) || "";
  const setToken = (t) => (t ? sessionStorage.setItem(KEY, t) : sessionStorage.removeItem(KEY));

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
  }

  return { api, login, stream, el, duration, pct, token, setToken, loginForm };
})();
