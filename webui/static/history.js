// history.js: the history page over GET /v1/reports/queues and
// /v1/reports/agents (15-minute intervals, JSON; the CSV buttons fetch the
// same routes with format=csv).
"use strict";
(() => {
  const { el, api, duration, pct } = omni;
  const $ = (id) => document.getElementById(id);
  let chart;
  const iso = (v) => new Date(v + "Z").toISOString().replace(".000Z", "Z");
  const local = (d) => d.toISOString().slice(0, 16);

  function query(extra = "") {
    const q = new URLSearchParams({ from: iso($("from").value), to: iso($("to").value) });
    if ($("queue").value) q.set("queue", $("queue").value);
    return q.toString() + extra;
  }

  async function load() {
    const { items } = await api("GET", "/v1/reports/queues?" + query());
    const queues = new Set(items.map((i) => i.queue));
    for (const q of [...queues].sort()) if (![...$("queue").options].some((o) => o.value === q)) $("queue").append(el("option", { value: q }, q));
    $("intervals").tBodies[0].replaceChildren(...items.map((i) => el("tr", {},
      el("td", {}, i.start.replace("T", " ").replace(":00Z", "")), el("td", {}, i.queue),
      el("td", { class: "num" }, String(i.offered)), el("td", { class: "num" }, String(i.answered)),
      el("td", { class: "num" }, String(i.abandoned)), el("td", { class: "num" }, duration(i.asaSeconds)),
      el("td", { class: "num" }, pct(i.serviceLevel)), el("td", { class: "num" }, duration(i.ahtSeconds)))));
    const sum = items.reduce((s, i) => ({ offered: s.offered + i.offered, answered: s.answered + i.answered, abandoned: s.abandoned + i.abandoned }),
      { offered: 0, answered: 0, abandoned: 0 });
    $("total").textContent = `(${items.length} intervals: offered ${sum.offered}, answered ${sum.answered}, abandoned ${sum.abandoned})`;
    // One point per interval start, queues summed.
    const by = new Map();
    for (const i of items) {
      const t = Date.parse(i.start) / 1000, b = by.get(t) || { offered: 0, answered: 0, abandoned: 0, within: 0, den: 0 };
      b.offered += i.offered; b.answered += i.answered; b.abandoned += i.abandoned;
      b.within += i.answeredWithinThreshold; b.den += i.answered + i.abandoned - i.abandonedWithinThreshold;
      by.set(t, b);
    }
    const ts = [...by.keys()].sort((a, b) => a - b);
    const data = [ts, ts.map((t) => by.get(t).offered), ts.map((t) => by.get(t).answered), ts.map((t) => by.get(t).abandoned),
      ts.map((t) => (by.get(t).den ? (100 * by.get(t).within) / by.get(t).den : null))];
    chart?.destroy();
    chart = new uPlot({
      width: Math.max(320, $("chart").clientWidth - 16), height: 260,
      series: [{}, { label: "offered", stroke: "#7cc4ff", width: 2 }, { label: "answered", stroke: "#6fdc8c", width: 2 },
        { label: "abandoned", stroke: "#ff8a80", width: 2 }, { label: "service level %", stroke: "#ffd166", width: 2, scale: "%" }],
      axes: [{ stroke: "#a9b6c4", grid: { stroke: "#2f3b49" } }, { stroke: "#a9b6c4", grid: { stroke: "#2f3b49" } },
        { side: 1, scale: "%", stroke: "#ffd166", grid: { show: false } }],
      scales: { "%": { range: [0, 100] } },
    }, data, $("chart"));
    const agents = (await api("GET", "/v1/reports/agents?" + query())).items;
    const per = new Map();
    for (const a of agents) {
      const p = per.get(a.agent) || { ready: 0, notReady: 0, busy: 0 };
      p.ready += a.seconds.READY || 0; p.notReady += a.seconds.NOT_READY || 0; p.busy += a.busySeconds;
      per.set(a.agent, p);
    }
    $("agents").tBodies[0].replaceChildren(...[...per.entries()].sort().map(([id, p]) => el("tr", {},
      el("th", { scope: "row" }, id), el("td", { class: "num" }, duration(p.ready)), el("td", { class: "num" }, duration(p.notReady)),
      el("td", { class: "num" }, duration(p.busy)), el("td", { class: "num" }, pct(p.ready + p.notReady ? Math.min(1, p.busy / (p.ready + p.notReady)) : 0)))));
    document.body.dataset.state = "loaded";
  }

  async function download(kind) {
    const res = await fetch(`/v1/reports/${kind}?` + query("&format=csv"), { headers: { Authorization: "Bearer " + omni.token() } });
    const url = URL.createObjectURL(await res.blob());
    const a = el("a", { href: url, download: `omniroute-${kind}.csv` });
    document.body.append(a);
    a.click();
    a.remove();
    URL.revokeObjectURL(url);
  }

  $("range").addEventListener("submit", (ev) => { ev.preventDefault(); load().catch((e) => ($("conn").textContent = e.message)); });
  $("csv-queues").addEventListener("click", () => download("queues"));
  $("csv-agents").addEventListener("click", () => download("agents"));

  omni.loginForm($("login"), (who) => {
    $("who").textContent = who.kind === "admin" ? "admin" : `${who.name || who.agent} (${who.role})`;
    const params = new URLSearchParams(location.search);
    const to = params.get("to") ? new Date(params.get("to")) : new Date(Math.ceil(Date.now() / 900e3) * 900e3);
    const from = params.get("from") ? new Date(params.get("from")) : new Date(to.getTime() - 24 * 3600e3);
    $("from").value = local(from);
    $("to").value = local(to);
    $("page").hidden = false;
    load().catch((e) => ($("conn").textContent = e.message));
  });
})();
