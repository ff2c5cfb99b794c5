// crmtest.js: the CRM side of the CRM test page (crmtest.html). It speaks
// the seed 002 postMessage protocol with the connector iframe:
//   from the connector: {type:"CRMConnectMessage", action:"ready"|"requestSyncOmnichannel", data:{statusId}}
//   to the connector:   {type:"ClientAppMessage", action:"ready"|"omnichannelResponse", data:{statusId, success}}
(function () {
  "use strict";
  var frame = document.getElementById("connector"), logEl = document.getElementById("log");
  var current = null, token = "";
  function log(s) { logEl.textContent = new Date().toISOString().slice(11, 23) + " " + s + "\n" + logEl.textContent; }
  function send(action, data) {
    var m = { type: "ClientAppMessage", action: action };
    if (data) m.data = data;
    frame.contentWindow.postMessage(m, location.origin);
  }
  function setStatus(id, why) {
    current = id;
    document.getElementById("current").textContent = id + " (" + why + ")";
    send("omnichannelResponse", { statusId: id, success: true });
    log("status " + id + " (" + why + ")");
  }
  window.addEventListener("message", function (e) {
    if (e.source !== frame.contentWindow || !e.data || e.data.type !== "CRMConnectMessage") return;
    if (e.data.action === "ready") send("ready");
    if (e.data.action === "requestSyncOmnichannel" && e.data.data && typeof e.data.data.statusId === "string") {
      setStatus(e.data.data.statusId.split(";")[0], "omniroute asked");
    }
  });
  document.getElementById("login").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var partner = document.getElementById("partner").value;
    fetch("/agent-manager/agent/login", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ username: document.getElementById("username").value, password: document.getElementById("password").value }),
    }).then(function (r) { return r.json(); }).then(function (b) {
      if (!b.data) throw new Error(JSON.stringify(b.error || b));
      token = b.data.token;
      log("logged in as " + b.data.agentId);
      // The connector's URL carries a single-use ticket, never the token.
      return fetch("/v1/tickets", {
        method: "POST",
        headers: { "Content-Type": "application/json", Authorization: "Bearer " + token },
        body: JSON.stringify({ scope: "crm-connector" }),
      });
    }).then(function (r) { return r.json(); }).then(function (t) {
      if (!t.ticket) throw new Error(JSON.stringify(t.error || t));
      frame.src = "connector.html?partner=" + encodeURIComponent(document.getElementById("partner").value) + "&ticket=" + encodeURIComponent(t.ticket);
      return fetch("/v1/presence-sync/statuses", { headers: { Authorization: "Bearer " + token } });
    }).then(function (r) { return r.json(); }).then(function (list) {
      var box = document.getElementById("statuses");
      box.textContent = "Set the CRM status: ";
      var byId = list.userPresenceStatuses || {};
      Object.keys(byId).sort().map(function (k) { return byId[k]; }).forEach(function (s) {
        var b = document.createElement("button");
        b.textContent = s.statusName || s.statusId;
        b.addEventListener("click", function () { setStatus(s.statusId, "agent in the CRM"); });
        box.appendChild(b);
      });
    }).catch(function (err) { log("error: " + err.message); });
  });
})();
