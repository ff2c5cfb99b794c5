// chat.js: the customer's side of a chat. POST /ui/api/chat/{queue} starts
// the conversation and returns its key; the stream
// /ui/api/chat/{id}/events (the key in the X-Chat-Key header) brings "position" (place in the queue and
// EWT) while it waits and "cimEvent" (the transcript without the agents-only
// entries); messages go to /ui/api/chat/{id}/messages.
"use strict";
(() => {
  const { el, duration } = omni;
  const $ = (id) => document.getElementById(id);
  const queue = decodeURIComponent(location.pathname.split("/").pop());
  let chat = JSON.parse(sessionStorage.getItem("omniroute.chat." + queue) || "null");
  let lastSeq = 0, stream, joined = false;

  async function call(method, path, body) {
    const res = await fetch(path, { method, headers: { "Content-Type": "application/json", "X-Chat-Key": chat?.key || "" }, body: JSON.stringify(body || {}) });
    const j = await res.json();
    if (!res.ok) throw new Error(j.error ? `${j.error.code}: ${j.error.message}` : `HTTP ${res.status}`);
    return j;
  }

  function show(e) {
    const d = e.data || {}, s = d.header?.sender, text = d.body?.markdownText;
    const who = !s ? null : s.type === "CUSTOMER" ? "You" : s.senderName || "Agent";
    if (e.name === "AGENT_SUBSCRIBED") {
      joined = true; // positions that arrive later are stale
      $("wait").textContent = "An agent joined the chat.";
    }
    if (e.name === "CHANNEL_SESSION_ENDED" || e.name === "CONVERSATION_CLOSED") $("wait").textContent = "The chat has ended.";
    $("log").append(el("li", { class: text ? "" : "system" }, who ? el("span", { class: "from" }, who) : null, text || e.name.replaceAll("_", " ").toLowerCase()));
    $("log").scrollTop = $("log").scrollHeight;
  }

  function open() {
    $("start").hidden = true;
    $("chat").hidden = false;
    stream = omni.stream(`/ui/api/chat/${encodeURIComponent(chat.id)}/events?after=${lastSeq}`, (name, data, id) => {
      if (name === "position" && !joined) {
        $("wait").textContent = data.position > 0
          ? `You are number ${data.position} in the queue. Expected wait: ${duration(data.ewtSeconds)}.`
          : data.waiting >= 0 ? "Connecting you to an agent…" : "";
      } else if (name === "cimEvent") {
        lastSeq = Number(id);
        show(data);
      }
    }, (s) => ($("conn").textContent = s), { "X-Chat-Key": chat.key });
    $("text").focus();
  }

  $("start").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      chat = await call("POST", `/ui/api/chat/${encodeURIComponent(queue)}`, { name: $("start").name.value.trim() });
      sessionStorage.setItem("omniroute.chat." + queue, JSON.stringify(chat));
      open();
    } catch (e) {
      $("start").querySelector("[role=status]").textContent = "Could not start the chat: " + e.message;
    }
  });
  $("send").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const text = $("text").value.trim();
    if (!text) return;
    try {
      await call("POST", `/ui/api/chat/${encodeURIComponent(chat.id)}/messages`, { text });
      $("text").value = "";
    } catch (e) {
      $("wait").textContent = "Not sent: " + e.message;
    }
  });
  $("end").addEventListener("click", async () => {
    try { await call("POST", `/ui/api/chat/${encodeURIComponent(chat.id)}/leave`); } catch {}
    stream?.stop();
    sessionStorage.removeItem("omniroute.chat." + queue);
    $("wait").textContent = "You left the chat.";
    $("send").hidden = true;
  });
  if (chat) open();
  else $("start").name.focus();
})();
