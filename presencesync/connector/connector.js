// omniroute CRM connector (seed 002 "Omnichannel"), served by omniroute at
// /presencesync/crm/connector.html?partner=ID&ticket=TICKET[&agent=ID] and
// loaded in an iframe of the CRM page. The CRM's back end mints TICKET with
// the agent's token (POST /v1/tickets {"scope":"crm-connector"}, the token in
// the Authorization header); the connector exchanges it, once, for that token
// (POST /presencesync/crm/session) and keeps the token in memory only, sending
// it in the Authorization header. No token is ever in a URL. It speaks postMessage with the CRM:
//   to the CRM:   {type:"CRMConnectMessage", action:"ready"}                (every 500 ms until answered)
//                 {type:"CRMConnectMessage", action:"requestSyncOmnichannel", data:{statusId:"id;..."}}
//   from the CRM: {type:"ClientAppMessage", action:"ready"}
//                 {type:"ClientAppMessage", action:"omnichannelResponse", data:{statusId, success}}
// Messages whose event.origin is not one of the partner's configured origins,
// or that do not come from the parent window, are ignored. It talks to
// omniroute over REST (POST /presencesync/crm/report) and SSE
// (/presencesync/crm/events, read with fetch so that it carries the header). It re-reports the CRM's last presence every
// heartbeatMs so that a lost message cannot leave the two sides apart. Reports
// are sent one at a time, in the CRM's order.
(function () {
  "use strict";
  var q = new URLSearchParams(location.search);
  // agent is optional: omniroute takes the token's agent when it is absent.
  var partner = q.get("partner") || "", agent = q.get("agent") || "", ticket = q.get("ticket") || "", token = "";
  var origins = [], ready = false, last = null, readyTimer = null;
  // state is for diagnostics (and the browser tests): messages ignored and
  // received, whether the configuration arrived and the handshake is done.
  var state = (window.omnirouteConnector = { ignored: 0, received: [], configured: false, ready: false, errors: 0, status: "loading" });

  // show writes the connection state into the iframe, so a person sees
  // where the connection stands (state.status for tests).
  function show(status, text) {
    state.status = status;
    var el = document.getElementById("status");
    if (el) el.textContent = "omniroute connector (" + (partner || "no partner") + "): " + text;
  }

  function post(action, data) {
    var msg = { type: "CRMConnectMessage", action: action };
    if (data !== undefined) msg.data = data;
    origins.forEach(function (o) { window.parent.postMessage(msg, o); }); // a wrong target origin is dropped by the browser
  }

  // report sends the CRM's presence to omniroute. Reports go one at a
  // time, in the order the CRM sent them: two requests in flight at once
  // may reach omniroute in either order (the browser opens another
  // connection for the second), and the older status would win.
  // A report that has no answer within REPORT_TIMEOUT_MS is abandoned
  // (counted in state.errors), so one stuck request cannot hold back the
  // later ones; the heartbeat sends the last status again.
  var REPORT_TIMEOUT_MS = 10000;
  var reports = Promise.resolve();
  function report(statusId, success) {
    reports = reports.then(function () { return session; }).then(function () {
      return fetch("report", {
        method: "POST",
        headers: { "Content-Type": "application/json", Authorization: "Bearer " + token },
        body: JSON.stringify({ partner: partner, agent: agent, statusId: statusId, success: success }),
        signal: AbortSignal.timeout(REPORT_TIMEOUT_MS),
      });
    }).then(function (r) { if (!r.ok) state.errors++; }, function () { state.errors++; });
    return reports;
  }

  window.addEventListener("message", function (event) {
    if (origins.indexOf(event.origin) < 0 || event.source !== window.parent) { state.ignored++; return; }
    var m = event.data || {};
    if (m.type !== "ClientAppMessage") { state.ignored++; return; }
    state.received.push(m.action);
    if (m.action === "ready" && !ready) {
      ready = state.ready = true;
      clearInterval(readyTimer);
      show("connecting", "CRM ready; connecting to omniroute");
      session.then(openEvents, function (err) { state.errors++; show("failed", "the connector's ticket was refused (" + err.message + "); reload the CRM page"); });
    } else if (m.action === "omnichannelResponse" && m.data && typeof m.data.statusId === "string") {
      var id = m.data.statusId.split(";")[0];
      if (m.data.success !== false) last = id;
      report(id, m.data.success !== false);
    }
  });

  // session exchanges the page's ticket for the agent's token (once).
  var session = fetch("session", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ ticket: ticket }),
  }).then(function (r) {
    return r.json().then(function (b) {
      if (!r.ok) throw new Error((b.error && b.error.code) || "HTTP " + r.status);
      token = b.token;
    });
  });
  history.replaceState(null, "", location.pathname + "?partner=" + encodeURIComponent(partner) + (agent ? "&agent=" + encodeURIComponent(agent) : ""));

  // openEvents reads the SSE stream with fetch (EventSource cannot send the
  // Authorization header) and reconnects 2 s after it breaks.
  function openEvents() {
    var url = "events?partner=" + encodeURIComponent(partner);
    if (agent) url += "&agent=" + encodeURIComponent(agent);
    fetch(url, { headers: { Authorization: "Bearer " + token } }).then(function (r) {
      if (r.status === 401) { var e = new Error("HTTP 401"); e.final = true; throw e; }
      if (!r.ok) throw new Error("HTTP " + r.status);
      show("connected", "connected" + (last ? ", CRM status " + last : ""));
      var reader = r.body.pipeThrough(new TextDecoderStream()).getReader(), buf = "";
      function pump() {
        return reader.read().then(function (c) {
          if (c.done) throw new Error("stream ended");
          buf += c.value;
          var i;
          while ((i = buf.indexOf("\n\n")) >= 0) {
            var block = buf.slice(0, i), name = "message", data = "";
            buf = buf.slice(i + 2);
            block.split("\n").forEach(function (line) {
              if (line.indexOf("event: ") === 0) name = line.slice(7);
              else if (line.indexOf("data: ") === 0) data += line.slice(6);
            });
            if (name === "requestSyncOmnichannel") {
              try { post("requestSyncOmnichannel", JSON.parse(data)); } catch (err) { state.errors++; }
            }
          }
          return pump();
        });
      }
      return pump();
    }).catch(function (err) {
      if (err.final) { state.errors++; show("failed", "omniroute refused the agent's token (expired or revoked); reload the CRM page"); return; }
      show("reconnecting", "connection to omniroute lost; reconnecting");
      setTimeout(openEvents, 2000);
    });
  }

  fetch("config?partner=" + encodeURIComponent(partner)).then(function (r) { return r.json(); }).then(function (cfg) {
    origins = cfg.origins || [];
    state.configured = true;
    show("waiting", origins.length ? "waiting for the CRM page (" + origins.join(", ") + ")" : "no CRM origin configured for this partner");
    post("ready");
    readyTimer = setInterval(function () { post("ready"); }, 500);
    setInterval(function () { if (ready && last !== null) report(last, true); }, cfg.heartbeatMs || 15000);
  }).catch(function () { state.errors++; show("failed", "cannot read the configuration of partner " + partner); });
})();
