// callback.js: /ui/oidc/callback, where the identity provider sends the
// browser back after "Sign in with <issuer>" (common.js, finishIssuerLogin):
// on success it goes back to the page the sign-in started from, signed in;
// on a refusal it says why and keeps nothing.
"use strict";

(async () => {
  const status = document.getElementById("status");
  const back = document.getElementById("back");
  try {
    location.replace(await omni.finishIssuerLogin());
  } catch (e) {
    status.textContent = "Sign-in failed: " + e.message;
    back.href = e.returnTo ?? "/";
    back.hidden = false;
  }
})();
