// desk.js: the reference agent desk. It speaks the ExpertFlow Agent Manager
// protocol (seed 004, PROTOCOLS.md; omniroute's agentdesk package) with the
// browser build of socket.io-client 4.4.0, and nothing else:
//
//   connect      io(origin, {path: "/socket.io", auth: {agent, fcm: "", token}})
//   state        emit changeAgentState {agentId, action: "agentState", state: {name, reasonCode}}
//                emit changeAgentState {agentId, action: "agentMRDState", mrdId, state}
//                on   agentPresence {state: {name, reasonCode}, agentMrdStates: [{mrd, state}]}
//   offers       on   taskRequest {conversationId, taskId, queue, channelSession...agentRequestTtl}
//                emit topicSubscription {conversationId, taskId, agentId}   (accept)
//                on   revokeTask {conversationId, taskId, reason}            (RONA, cancelled...)
//   chat         on   onTopicData {conversationId, topicData: {topicEvents}} (the transcript)
//                on   onCimEvent {cimEvent}                                 (each new event)
//                emit publishCimEvent {agentId, conversationId, cimEvent: {name: "AGENT_MESSAGE", data: {body}}}
//   transfer     emit directTransferRequest / directConferenceRequest {conversationId, agentId, mode, queueId | requestedAgentId}
//   leave        emit topicUnsubscription_ {conversationId, taskId, agentId}
//                on   topicUnsubscription, wrapupTimerStarted {conversationId, taskId, deadline}
//                emit closeWrapup {conversationId, taskId, agentId}
//
// Every emit carries an acknowledgement callback: {ok: true} or {ok: false,
// code, message}.
"use strict";
(() => {
  const { el, api } = omni;
  const $ = (id) => document.getElementById(id);
  let me, socket;
  const convs = new Map(); // conversationId -> {taskId, events: [cimEvent]}
  const offers = new Map(); // taskId -> {payload, timer}

  const notice = (text) => ($("notice").textContent = text);
  function emit(event, payload) {
    socket.emit(event, { agentId: me.agent, ...payload }, (ack) => {
      if (ack && ack.ok === false) notice(`${event} refused: ${ack.code} ${ack.message || ""}`);
    });
  }

  // ---------------------------------------------------------------- state
  function setState(name) {
    const reason = name === "READY" ? null : reasons.find((r) => r.id === $("reason").value && r.type === name) || null;
    emit("changeAgentState", { action: "agentState", state: { name, reasonCode: reason } });
  }
  let reasons = [];
  function onPresence(p) {
    const rc = p.state.reasonCode;
    $("state").textContent = p.state.name + (rc ? ` (${rc.name || rc.id})` : "");
    $("state").className = "st-" + p.state.name;
    $("mrds").replaceChildren(...(p.agentMrdStates || []).map((m) => el("button", {
      type: "button", class: "badge st-" + m.state, "aria-label": `${m.mrd.name}: ${m.state}; switch`,
      onclick: () => emit("changeAgentState", { action: "agentMRDState", mrdId: m.mrd.id, state: m.state === "NOT_READY" ? "READY" : "NOT_READY" }),
    }, `${m.mrd.name}: ${m.state}`)));
  }

  // ---------------------------------------------------------------- offers
  function onOffer(t) {
    const ttl = t.channelSession?.channel?.channelConfig?.routingPolicy?.agentRequestTtl || 0;
    const ends = Date.now() + ttl * 1000;
    const left = el("span", { "data-testid": "rona" });
    const box = el("div", { class: "offer", "data-task": t.taskId, role: "group", "aria-label": "Incoming " + t.queue.name },
      el("strong", {}, t.taskDirection === "INBOUND" ? "Incoming " : t.taskDirection + " ", t.queue.name || t.queue.id),
      t.note ? el("p", {}, "Note: " + t.note) : null,
      el("p", {}, "Answer within ", left),
      el("button", { type: "button", onclick: () => accept(t) }, "Accept"));
    const tick = () => (left.textContent = Math.max(0, Math.ceil((ends - Date.now()) / 1000)) + " s");
    tick();
    offers.set(t.taskId, { box, timer: setInterval(tick, 250) });
    $("offers").append(box);
    box.querySelector("button").focus();
  }
  function dropOffer(taskId) {
    const o = offers.get(taskId);
    if (!o) return;
    clearInterval(o.timer);
    o.box.remove();
    offers.delete(taskId);
  }
  function accept(t) {
    emit("topicSubscription", { conversationId: t.conversationId, taskId: t.taskId });
    convs.set(t.conversationId, { taskId: t.taskId, events: [] });
    dropOffer(t.taskId);
  }

  // ---------------------------------------------------------------- chat
  function showConvs() {
    const sel = $("conv"), keep = sel.value;
    sel.replaceChildren(...[...convs.keys()].map((id) => el("option", { value: id }, id)));
    sel.value = convs.has(keep) ? keep : sel.options[0]?.value || "";
    showLog();
  }
  function showLog() {
    const c = convs.get($("conv").value);
    $("log").replaceChildren(...(c ? c.events : []).map((e) => {
      const d = e.data || {}, s = d.header?.sender, text = d.body?.markdownText;
      const cls = e.name === "WHISPER_MESSAGE" ? "whisper" : text ? "" : "system";
      return el("li", { class: cls }, el("span", { class: "from" }, s ? `${s.senderName || s.id} (${e.name === "WHISPER_MESSAGE" ? "whisper" : s.type})` : e.name), text || "");
    }));
    $("log").scrollTop = $("log").scrollHeight;
  }
  function reply(ev) {
    ev.preventDefault();
    const conversationId = $("conv").value, text = $("text").value.trim();
    if (!conversationId || !text) return;
    emit("publishCimEvent", { conversationId, cimEvent: {
      id: crypto.randomUUID(), name: "AGENT_MESSAGE", type: "MESSAGE", timestamp: new Date().toISOString(),
      data: { id: crypto.randomUUID(), header: { sender: { id: me.agent, type: "AGENT", senderName: me.name } }, body: { type: "PLAIN", markdownText: text } } } });
    $("text").value = "";
  }
  function transfer(event) {
    const conversationId = $("conv").value, target = $("target").value.trim();
    if (!conversationId) return;
    emit(event, target ? { conversationId, mode: "agent", requestedAgentId: target } : { conversationId, mode: "queue", queueId: $("queue").value });
    notice(`${event === "directTransferRequest" ? "Transfer" : "Conference"} requested`);
  }
  function leave() {
    const conversationId = $("conv").value, c = convs.get(conversationId);
    if (c) emit("topicUnsubscription_", { conversationId, taskId: c.taskId });
  }
  let wrap = null;
  function onWrapup(w) {
    wrap = w;
    $("wrapup").hidden = false;
    const tick = () => {
      if (!wrap) return;
      $("wrapup-left").textContent = Math.max(0, Math.ceil((Date.parse(w.deadline) - Date.now()) / 1000)) + " s";
      if (Date.parse(w.deadline) > Date.now()) setTimeout(tick, 500);
    };
    tick();
  }

  // ---------------------------------------------------------------- wiring
  function connect() {
    socket = io(location.origin, { path: "/socket.io", auth: { agent: me.agent, fcm: "", token: omni.token() } });
    socket.on("connect", () => ($("conn").textContent = "connected"));
    socket.on("disconnect", () => ($("conn").textContent = "disconnected"));
    socket.on("connect_error", (e) => ($("conn").textContent = "refused: " + e.message));
    socket.on("agentPresence", onPresence);
    socket.on("taskRequest", onOffer);
    socket.on("revokeTask", (r) => {
      dropOffer(r.taskId);
      notice(r.reason === "RONA" ? "Offer timed out (RONA): you were set Not ready" : `Offer withdrawn (${r.reason})`);
    });
    socket.on("onTopicData", (p) => {
      const c = convs.get(p.conversationId) || { taskId: p.taskId, events: [] };
      c.events = [...(p.topicData?.topicEvents || [])];
      convs.set(p.conversationId, c);
      $("conv").value = p.conversationId;
      showConvs();
    });
    socket.on("onCimEvent", (p) => {
      const e = p.cimEvent || p, c = convs.get(e.conversationId);
      if (e.name === "NO_AGENT_AVAILABLE") notice("No agent took the transfer");
      if (!c) return;
      c.events.push(e);
      if ($("conv").value === e.conversationId) showLog();
    });
    socket.on("topicUnsubscription", (p) => {
      convs.delete(p.conversationId);
      if (p.reason === "TRANSFERRED") notice("Transferred");
      showConvs();
    });
    socket.on("wrapupTimerStarted", onWrapup);
    socket.on("errors", (e) => notice(`error: ${e.code || ""} ${e.message || JSON.stringify(e)}`));
  }

  $("ready").addEventListener("click", () => setState("READY"));
  $("notready").addEventListener("click", () => setState("NOT_READY"));
  $("logout").addEventListener("click", () => setState("LOGOUT"));
  $("conv").addEventListener("input", showLog);
  $("reply").addEventListener("submit", reply);
  $("transfer").addEventListener("click", () => transfer("directTransferRequest"));
  $("conference").addEventListener("click", () => transfer("directConferenceRequest"));
  $("leave").addEventListener("click", leave);
  $("wrapup-done").addEventListener("click", () => {
    if (wrap) emit("closeWrapup", { conversationId: wrap.conversationId, taskId: wrap.taskId });
    wrap = null;
    $("wrapup").hidden = true;
  });

  omni.loginForm($("login"), async (who) => {
    if (who.kind !== "agent") {
      $("conn").textContent = "The desk needs an agent sign-in.";
      return;
    }
    me = who;
    $("who").textContent = `${who.name || who.agent}`;
    $("desk").hidden = false;
    reasons = (await api("GET", "/v1/reason-codes")).items;
    $("reason").replaceChildren(...reasons.filter((r) => r.type === "NOT_READY").map((r) => el("option", { value: r.id }, r.name)));
    const queues = (await api("GET", "/v1/queues")).items;
    $("queue").replaceChildren(...queues.map((q) => el("option", { value: q.id }, q.name || q.id)));
    connect();
  });
})();
