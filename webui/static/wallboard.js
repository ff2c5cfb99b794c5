// wallboard.js: the supervisor wallboard. One event stream
// (/ui/api/board): a "snapshot" with every queue and agent row the viewer
// may see, then "update" events with the rows that changed. The page keeps
// the rows in maps and re-renders; waits and times in state count up in the
// browser from the timestamps in the rows (no polling of the server).
"use strict";
(() => {
  const { el, duration, pct, api } = omni;
  const $ = (id) => document.getElementById(id);
  const queues = new Map(), agents = new Map(), minutes = new Map();
  let me = null, chart = null, qSort = { key: "id", dir: 1 }, aSort = { key: "id", dir: 1 };
  let clockSkew = 0; // server time minus browser time, from each message's "at"

  const now = () => Date.now() + clockSkew;
  const since = (t) => (t ? (now() - Date.parse(t)) / 1000 : 0);

  function apply(name, msg) {
    clockSkew = Date.parse(msg.at) - Date.now();
    if (name === "snapshot") {
      queues.clear();
      agents.clear();
      minutes.clear();
    }
    for (const q of msg.queues) {
      queues.set(q.id, q);
      const ring = minutes.get(q.id) || [];
      if (q.minutes) ring.splice(0, ring.length, ...q.minutes);
      const last = ring[ring.length - 1];
      if (last && last.t === q.minute.t) ring[ring.length - 1] = q.minute;
      else ring.push(q.minute);
      while (ring.length > 60) ring.shift();
      minutes.set(q.id, ring);
    }
    for (const a of msg.agents) agents.set(a.id, a);
    refreshFilters();
    render();
    drawChart();
  }

  // ------------------------------------------------------------ filters
  function refreshFilters() {
    const fill = (sel, values) => {
      const keep = sel.value;
      const have = new Set([...sel.options].map((o) => o.value));
      for (const v of values) if (!have.has(v)) sel.append(el("option", { value: v }, v));
      sel.value = keep;
    };
    const teams = new Set();
    for (const a of agents.values()) for (const t of a.teams) teams.add(t);
    fill($("f-team"), [...teams].sort());
    fill($("f-queue"), [...queues.keys()].sort());
    const cq = $("chart-queue");
    const before = cq.options.length;
    fill(cq, [...queues.keys()].sort());
    if (!before && cq.options.length) cq.value = cq.options[0].value;
  }

  // ------------------------------------------------------------ queues
  const qValue = {
    id: (q) => q.id, waiting: (q) => q.stats.waiting, longest: (q) => since(q.oldestSince),
    ewt: (q) => q.ewtSeconds, sl: (q) => q.stats.serviceLevel, sl15: (q) => q.last15.serviceLevel,
    slToday: (q) => q.today.serviceLevel, abandon: (q) => abandonRate(q), offered: (q) => q.stats.offered,
    answered: (q) => q.stats.answered, abandoned: (q) => q.stats.abandoned, available: (q) => q.stats.availableAgents,
  };
  const abandonRate = (q) => (q.stats.offered ? q.stats.abandoned / q.stats.offered : 0);
  const cmp = (f, dir) => (x, y) => {
    const a = f(x), b = f(y);
    return (a < b ? -1 : a > b ? 1 : 0) * dir;
  };

  function renderQueues() {
    const fq = $("f-queue").value, riskOnly = $("f-risk").checked;
    let rows = [...queues.values()].filter((q) => (!fq || q.id === fq) && (!riskOnly || q.atRisk));
    rows.sort(cmp(qValue[qSort.key], qSort.dir));
    const body = $("queues").tBodies[0];
    body.replaceChildren(...rows.map((q) => el("tr", { class: q.atRisk ? "at-risk" : undefined, "data-queue": q.id },
      el("th", { scope: "row", title: q.name }, q.id),
      el("td", { class: "num", "data-field": "waiting" }, String(q.stats.waiting)),
      el("td", { class: "num", "data-field": "longest" }, q.oldestSince ? duration(since(q.oldestSince)) : "–"),
      el("td", { class: "num", "data-field": "ewt" }, duration(q.ewtSeconds)),
      el("td", { class: "num", "data-field": "sl" }, pct(q.stats.serviceLevel)),
      el("td", { class: "num", "data-field": "sl15" }, pct(q.last15.serviceLevel)),
      el("td", { class: "num", "data-field": "slToday" }, pct(q.today.serviceLevel)),
      el("td", { class: "num", "data-field": "abandonRate" }, pct(abandonRate(q))),
      el("td", { class: "num", "data-field": "offered" }, String(q.stats.offered)),
      el("td", { class: "num", "data-field": "answered" }, String(q.stats.answered)),
      el("td", { class: "num", "data-field": "abandoned" }, String(q.stats.abandoned)),
      el("td", { class: "num", "data-field": "available" }, `${q.stats.availableAgents} / ${q.eligibleAgents}`),
      el("td", { "data-field": "status" }, q.atRisk
        ? el("span", { class: "badge risk", title: `target ${pct(q.target)} within ${q.stats.serviceLevelThresholdSeconds} s` }, "At risk")
        : el("span", { class: "muted", title: `target ${pct(q.target)}` }, "OK")),
    )));
    const risky = [...queues.values()].filter((q) => q.atRisk).map((q) => q.id);
    $("q-alert").textContent = risky.length ? `Service level at risk: ${risky.join(", ")}` : "";
  }

  // ------------------------------------------------------------ agents
  const aValue = { id: (a) => a.id, teams: (a) => a.teams.join(","), state: (a) => a.state, since: (a) => -Date.parse(a.since) };

  function renderAgents() {
    const ft = $("f-team").value, fq = $("f-queue").value, fs = $("f-state").value, text = $("f-text").value.trim().toLowerCase();
    let rows = [...agents.values()].filter((a) => (!ft || a.teams.includes(ft)) && (!fq || a.queues.includes(fq) || a.tasks.some((t) => t.queue === fq))
      && (!fs || a.state === fs) && (!text || a.id.toLowerCase().includes(text) || (a.name || "").toLowerCase().includes(text)));
    rows.sort(cmp(aValue[aSort.key], aSort.dir));
    $("a-count").textContent = `(${rows.length} of ${agents.size})`;
    const canForce = me && (me.kind === "admin" || me.role === "supervisor");
    const canMonitor = me && me.role === "supervisor";
    $("agents").tBodies[0].replaceChildren(...rows.map((a) => el("tr", { "data-agent": a.id },
      el("th", { scope: "row" }, a.name ? `${a.name} (${a.id})` : a.id, a.role === "supervisor" ? el("span", { class: "badge" }, "supervisor") : null),
      el("td", {}, a.teams.join(", ")),
      el("td", { "data-field": "state" }, el("span", { class: "st-" + a.state }, a.state), a.reasonCode ? ` (${a.reasonCode})` : ""),
      el("td", { class: "num", "data-since": a.since }, duration(since(a.since))),
      el("td", {}, a.mrds.map((m) => el("span", { class: "badge st-" + m.state }, `${m.mrd}: ${m.state} ${m.load}/${m.capacity}`))),
      el("td", { "data-field": "tasks" }, a.tasks.map((t) => el("div", {},
        el("span", { class: "badge st-" + t.state }, `${t.queue} ${t.state}`),
        (a.participants?.[t.conversation] || []).filter((p) => p.agent !== a.id).map((p) => el("span", { class: "badge" }, `${p.agent}: ${p.role}`)),
        canMonitor && t.state === "ACTIVE" ? el("button", { type: "button", onclick: () => monitor(t.conversation, "JoinAsSilentMonitor"), "aria-label": `Monitor ${a.id}'s conversation ${t.conversation}` }, "Monitor") : null,
      ))),
      el("td", {}, canForce && a.state !== "LOGOUT" && a.id !== me.agent ? [
        a.state !== "NOT_READY" ? el("button", { type: "button", onclick: () => force(a.id, "NOT_READY"), "aria-label": `Force ${a.id} not ready` }, "Not ready") : null,
        el("button", { type: "button", class: "danger", onclick: () => force(a.id, "LOGOUT"), "aria-label": `Log ${a.id} out` }, "Log out"),
      ] : null),
    )));
  }

  // ------------------------------------------------------------ live conversations
  // One row per agent task of the agents this page sees (a supervisor's
  // teams: the server filters them), with who else is in the conversation
  // and the seed-004 supervision actions.
  function renderConversations() {
    const ft = $("f-team").value, fq = $("f-queue").value, text = $("f-text").value.trim().toLowerCase();
    const canMonitor = me && me.role === "supervisor";
    const rows = [];
    for (const a of agents.values()) {
      if (ft && !a.teams.includes(ft)) continue;
      for (const t of a.tasks) {
        if (fq && t.queue !== fq) continue;
        if (text && !t.conversation.toLowerCase().includes(text) && !a.id.toLowerCase().includes(text)) continue;
        rows.push({ a, t });
      }
    }
    rows.sort((x, y) => (x.t.acceptedAt || x.t.reservedAt).localeCompare(y.t.acceptedAt || y.t.reservedAt));
    $("v-count").textContent = `(${rows.length})`;
    $("conversations").tBodies[0].replaceChildren(...rows.map(({ a, t }) => el("tr", { "data-conversation": t.conversation, "data-agent": a.id },
      el("th", { scope: "row" }, t.conversation),
      el("td", {}, t.queue),
      el("td", {}, a.name ? `${a.name} (${a.id})` : a.id),
      el("td", { "data-field": "state" }, el("span", { class: "badge st-" + t.state }, t.state)),
      el("td", { class: "num", "data-since": t.acceptedAt || t.reservedAt }, duration(since(t.acceptedAt || t.reservedAt))),
      el("td", { "data-field": "supervisors" }, (a.participants?.[t.conversation] || []).filter((p) => p.agent !== a.id)
        .map((p) => el("span", { class: "badge" }, `${p.agent}: ${p.role}`))),
      el("td", {}, canMonitor && t.state === "ACTIVE" ? [
        ["JoinAsSilentMonitor", "Monitor"], ["joinAsWhisper", "Whisper"], ["JoinAsBargeIn", "Barge in"],
      ].map(([how, label]) => el("button", { type: "button", onclick: () => monitor(t.conversation, how),
        "aria-label": `${label} conversation ${t.conversation} of ${a.id}` }, label)) : null),
    )));
  }

  async function force(agent, state) {
    try {
      await api("PUT", `/ui/api/agents/${encodeURIComponent(agent)}/state`, { state });
    } catch (e) {
      $("conn").textContent = `${agent}: ${e.message}`;
    }
  }

  function render() {
    renderQueues();
    renderAgents();
    renderConversations();
  }

  // ------------------------------------------------------------ chart
  function drawChart() {
    const q = $("chart-queue").value;
    const ring = minutes.get(q) || [];
    const data = [ring.map((m) => Date.parse(m.t) / 1000), ring.map((m) => m.offered), ring.map((m) => m.answered),
      ring.map((m) => m.abandoned), ring.map((m) => m.waitingMax)];
    const box = $("chart");
    if (!chart || chart.queue !== q) {
      chart?.destroy();
      chart = new uPlot({
        width: Math.max(320, box.clientWidth - 16), height: 240,
        series: [{}, { label: "offered", stroke: "#7cc4ff", width: 2 }, { label: "answered", stroke: "#6fdc8c", width: 2 },
          { label: "abandoned", stroke: "#ff8a80", width: 2 }, { label: "most waiting", stroke: "#ffd166", width: 2, dash: [6, 4] }],
        axes: [{ stroke: "#a9b6c4", grid: { stroke: "#2f3b49" } }, { stroke: "#a9b6c4", grid: { stroke: "#2f3b49" } }],
      }, data, box);
      chart.queue = q;
    } else {
      chart.setData(data);
    }
  }

  // ------------------------------------------------------------ supervising (seed 004 events)
  let socket = null, monitored = null;
  function supervisorSocket() {
    if (socket) return socket;
    socket = io(location.origin, { path: "/socket.io", auth: { agent: me.agent, fcm: "", token: omni.token() } });
    const log = $("m-log");
    const show = (cim) => {
      if (!cim || cim.conversationId && cim.conversationId !== monitored) return;
      const d = cim.data || {}, sender = d.header?.sender;
      const text = d.body?.markdownText;
      const cls = cim.name === "WHISPER_MESSAGE" ? "whisper" : text ? "" : "system";
      log.append(el("li", { class: cls }, el("span", { class: "from" }, sender ? `${sender.senderName || sender.id} (${sender.type})` : cim.name), text || cim.name));
      log.scrollTop = log.scrollHeight;
    };
    socket.on("onTopicData", (p) => {
      if (p.conversationId !== monitored) return;
      log.replaceChildren();
      for (const e of p.topicData?.topicEvents || []) show(e);
      $("m-role").textContent = `role: ${p.topicData?.topicParticipant?.role || ""}`;
    });
    socket.on("onCimEvent", (p) => {
      const cim = p.cimEvent || p;
      if (cim.name === "PARTICIPANT_ROLE_CHANGED" && cim.data?.agentId === me.agent) $("m-role").textContent = `role: ${cim.data.role}`;
      show(cim);
    });
    socket.on("topicUnsubscription", (p) => { if (p.conversationId === monitored) stopMonitor(); });
    socket.on("errors", (e) => { $("m-role").textContent = `refused: ${JSON.stringify(e)}`; });
    return socket;
  }

  function monitor(conv, how) {
    const s = supervisorSocket();
    monitored = conv;
    $("monitor").hidden = false;
    $("m-conv").textContent = conv;
    s.emit(how, { agentId: me.agent, conversationId: conv }, (ack) => {
      if (ack && ack.ok === false) $("m-role").textContent = `refused: ${ack.code || ""} ${ack.message || ""}`;
    });
  }
  function stopMonitor() {
    monitored = null;
    $("monitor").hidden = true;
  }

  $("m-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const text = $("m-text").value.trim();
    if (!text || !monitored) return;
    const role = $("m-role").textContent;
    const name = role.includes("BARGE_IN") ? "AGENT_MESSAGE" : "WHISPER_MESSAGE";
    socket.emit("publishCimEvent", { agentId: me.agent, conversationId: monitored, cimEvent: {
      id: crypto.randomUUID(), name, type: "MESSAGE", timestamp: new Date().toISOString(),
      data: { id: crypto.randomUUID(), header: { sender: { id: me.agent, type: "AGENT", senderName: me.name || me.agent } }, body: { type: "PLAIN", markdownText: text } } } },
    (ack) => { if (ack && ack.ok === false) $("m-role").textContent = `refused: ${ack.code}`; });
    $("m-text").value = "";
  });
  $("m-whisper").addEventListener("click", () => monitored && monitor(monitored, "joinAsWhisper"));
  $("m-barge").addEventListener("click", () => monitored && monitor(monitored, "JoinAsBargeIn"));
  $("m-leave").addEventListener("click", () => {
    if (monitored) socket.emit("topicUnsubscription_", { agentId: me.agent, conversationId: monitored });
    stopMonitor();
  });

  // ------------------------------------------------------------ wiring
  for (const b of document.querySelectorAll("[data-sort]")) b.addEventListener("click", () => {
    qSort = { key: b.dataset.sort, dir: qSort.key === b.dataset.sort ? -qSort.dir : 1 };
    renderQueues();
  });
  for (const b of document.querySelectorAll("[data-asort]")) b.addEventListener("click", () => {
    aSort = { key: b.dataset.asort, dir: aSort.key === b.dataset.asort ? -aSort.dir : 1 };
    renderAgents();
  });
  for (const id of ["f-team", "f-queue", "f-state", "f-text", "f-risk"]) $(id).addEventListener("input", render);
  $("chart-queue").addEventListener("input", drawChart);
  $("logout").addEventListener("click", () => { omni.setToken(""); location.reload(); });
  // Waits and times in state count up between updates.
  setInterval(() => {
    for (const td of document.querySelectorAll("[data-since]")) td.textContent = duration(since(td.dataset.since));
    for (const tr of document.querySelectorAll("#queues tr[data-queue]")) {
      const q = queues.get(tr.dataset.queue);
      if (q?.oldestSince) tr.querySelector("[data-field=longest]").textContent = duration(since(q.oldestSince));
    }
  }, 1000);

  omni.loginForm($("login"), (who) => {
    me = who;
    $("who").textContent = who.kind === "admin" ? "admin" : `${who.name || who.agent} (${who.role})`;
    $("logout").hidden = false;
    if (who.kind !== "admin" && who.role !== "supervisor") {
      $("conn").textContent = "This page is for supervisors and admins; agents use the desk.";
      document.body.dataset.state = "forbidden";
      return;
    }
    $("board").hidden = false;
    omni.stream("/ui/api/board", (name, msg) => {
      apply(name, msg);
      document.body.dataset.state = "live";
    }, (s) => {
      $("conn").textContent = s;
      if (s.startsWith("refused")) document.body.dataset.state = "forbidden";
    });
  });
})();
