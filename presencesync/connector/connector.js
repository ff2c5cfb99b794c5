// omniroute CRM connector (seed 002 "Omnichannel"), served by omniroute at
// /presencesync/crm/connector.html?partner=ID&token=AGENT_TOKEN[&agent=ID] and
// loaded in an iframe of the CRM page. It speaks postMessage with the CRM:
//   to the CRM:   {type:"CRMConnectMessage", action:"ready"}                (every 500 ms until answered)
//                 {type:"CRMConnectMessage", action:"requestSyncOmnichannel", data:{statusId:"id;..."}}
//   from the CRM: {type:"ClientAppMessage", action:"ready"}
//                 {type:"ClientAppMessage", action:"omnichannelResponse", data:{statusId, success}}
// Messages whose event.origin is not one of the partner's configured origins,
// or that do not come from the parent window, are ignored. It talks to
// omniroute over REST (POST /presencesync/crm/report) and SSE
// (/presencesync/crm/events). It re-reports the CRM's last presence every
// heartbeatMs so that a lost message cannot leave the two sides apart.
(function () {
  "use strict";
  var q = new URLSearchParams(location.search);
  // agent is optional: omniroute takes the token's agent when it is absent.
  var partner = q.get("partner") || "", agent = q.get("agent") || "", token = q.get("token") || "";
  var origins = [], ready = false, last = null, readyTimer = null;
  // state is for diagnostics (and the browser tests): messages ignored and
  // received, whether the configuration arrived and the handshake is done.
  var state = (window.omnirouteConnector = { ignored: 0, received: [], configured: false, ready: false, errors: 0 });

  function post(action, data) {
    var msg = { type: "CRMConnectMessage", action: action };
    if (data !== undefined) msg.data = data;
    origins.forEach(function (o) { window.parent.postMessage(msg, o); }); // a wrong target origin is dropped by the browser
  }

  function report(statusId, success) {
    return fetch("report", {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: "Bearer " + token },
      body: JSON.stringify({ partner: partner, agent: agent, statusId: statusId, success: success }),
    }).then(function (r) { if (!r.ok) state.errors++; }, function () { state.errors++; });
  }

  window.addEventListener("message", function (event) {
    if (origins.indexOf(event.origin) < 0 || event.source !== window.parent) { state.ignored++; return; }
    var m = event.data || {};
    if (m.type !== "ClientAppMessage") { state.ignored++; return; }
    state.received.push(m.action);
    if (m.action === "ready" && !ready) {
      ready = state.ready = true;
      clearInterval(readyTimer);
      openEvents();
    } else if (m.action === "omnichannelResponse" && m.data && typeof m.data.statusId === "string") {
      var id = m.data.statusId.split(";")[0];
      if (m.data.success !== false) last = id;
      report(id, m.data.success !== false);
    }
  });

  function openEvents() {
    var url = "events?partner=" + encodeURIComponent(partner) + "&token=" + encodeURIComponent(token);
    if (agent) url += "&agent=" + encodeURIComponent(agent);
    var es = new EventSource(url);
    es.addEventListener("requestSyncOmnichannel", function (e) {
      try { post("requestSyncOmnichannel", JSON.parse(e.data)); } catch (err) { state.errors++; }
    });
  }

  fetch("config?partner=" + encodeURIComponent(partner)).then(function (r) { return r.json(); }).then(function (cfg) {
    origins = cfg.origins || [];
    state.configured = true;
    post("ready");
    readyTimer = setInterval(function () { post("ready"); }, 500);
    setInterval(function () { if (ready && last !== null) report(last, true); }, cfg.heartbeatMs || 15000);
  }).catch(function () { state.errors++; });
})();
