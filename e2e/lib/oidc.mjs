// oidc.mjs: a real OpenID provider (npm "oidc-provider", a certified
// implementation) for the identity e2e tests, and a headless user that logs
// in through its authorization code flow with PKCE (its development
// interactions: a login form, then a consent form) and gets an ID token.
import http from "node:http";
import { createHash, generateKeyPairSync, randomBytes } from "node:crypto";
import Provider, { errors } from "oidc-provider";

export const CLIENT_ID = "omniroute";
const REDIRECT_URI = "http://127.0.0.1/callback";

// signingKey returns a fresh RS256 private JWK with key id kid.
export function signingKey(kid) {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  return { ...privateKey.export({ format: "jwk" }), kid, alg: "RS256", use: "sig" };
}

// startProvider serves an OpenID provider on a loopback port for test t.
// roles maps a login name to its realm roles (Keycloak's realm_access.roles
// claim); keys are the JWKs, the first signs. The provider also takes the
// resource owner password grant (grant_type=password, what Keycloak calls
// direct access grants; oidc-provider has none built in, so it is
// registered with provider.registerGrantType): the password of a login
// name is "<name>-pass", and the answer carries an ID token as the code
// flow's does. It resolves with
// { issuer, rotate(keys), allowRedirect(uri), setIdTokenTTL(seconds), stop() }:
// rotate swaps in a new provider with the same issuer and accounts but other
// keys (what a provider's key rotation looks like from outside);
// allowRedirect registers one more redirect URI for the client (a browser
// login's <omniroute origin>/ui/oidc/callback, known once omniroute
// listens; the provider is made anew, so call it before any login); stop
// closes the listener and its connections (the provider is then
// unreachable).
export async function startProvider(t, roles, keys) {
  let idTokenTTL = 3600;
  const server = http.createServer();
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const account = (sub) => ({
    accountId: sub,
    claims: () => ({ sub, preferred_username: sub, realm_access: { roles: roles[sub] ?? [] } }),
  });
  const redirects = [REDIRECT_URI];
  let current = keys;
  const make = (jwks) => {
    current = jwks;
    const p = new Provider(issuer, {
      clients: [{ client_id: CLIENT_ID, token_endpoint_auth_method: "none", redirect_uris: [...redirects],
        grant_types: ["authorization_code", "password"], response_types: ["code"] }],
      jwks: { keys: jwks },
      pkce: { required: () => true },
      claims: { openid: ["sub"], profile: ["preferred_username", "realm_access"] },
      findAccount: (_ctx, sub) => account(sub),
      conformIdTokenClaims: false, // profile claims in the ID token, as Keycloak puts them
      ttl: { IdToken: () => idTokenTTL },
    });
    p.registerGrantType("password", async (ctx) => {
      const { username, password } = ctx.oidc.params;
      if (!username || !(username in roles) || password !== `${username}-pass`) {
        throw new errors.InvalidGrant("invalid resource owner credentials");
      }
      const idToken = new p.IdToken(account(username).claims(), { ctx });
      idToken.scope = "openid profile";
      ctx.body = { access_token: randomBytes(16).toString("hex"), token_type: "Bearer", expires_in: idTokenTTL,
        id_token: await idToken.issue({ use: "idtoken" }) };
    }, ["username", "password", "scope"]);
    p.on("server_error", (_ctx, err) => console.error("oidc-provider:", err));
    return p.callback();
  };
  let handler = make(keys);
  server.on("request", (req, res) => handler(req, res));
  t.after(() => server.close());
  return {
    issuer,
    rotate(newKeys) {
      handler = make(newKeys);
    },
    allowRedirect(uri) {
      redirects.push(uri);
      handler = make(current);
    },
    setIdTokenTTL(seconds) {
      idTokenTTL = seconds;
    },
    stop() {
      server.close();
      server.closeAllConnections();
    },
  };
}

const b64url = (buf) => buf.toString("base64url");

// idToken logs user in at issuer with the authorization code flow and PKCE
// (S256) and resolves with the ID token of the code exchange.
export async function idToken(issuer, user) {
  const cookies = new Map();
  const go = async (url, init = {}) => {
    const res = await fetch(url, { ...init, redirect: "manual",
      headers: { ...(init.headers ?? {}), cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join("; ") } });
    for (const c of res.headers.getSetCookie()) {
      const [kv] = c.split(";");
      const i = kv.indexOf("=");
      cookies.set(kv.slice(0, i), kv.slice(i + 1));
    }
    return res;
  };
  const verifier = b64url(randomBytes(32));
  const challenge = b64url(createHash("sha256").update(verifier).digest());
  const q = new URLSearchParams({ client_id: CLIENT_ID, response_type: "code", scope: "openid profile",
    redirect_uri: REDIRECT_URI, code_challenge: challenge, code_challenge_method: "S256", state: "s", nonce: b64url(randomBytes(8)) });
  let res = await go(`${issuer}/auth?${q}`);
  const form = { login: { prompt: "login", login: user, password: "any" }, consent: { prompt: "consent" } };
  for (let step = 0; step < 12; step++) {
    if (res.status >= 300 && res.status < 400) {
      const loc = new URL(res.headers.get("location"), issuer);
      if (loc.href.startsWith(REDIRECT_URI)) {
        const code = loc.searchParams.get("code");
        if (!code) throw new Error(`authorization failed: ${loc.search}`);
        const tok = await fetch(`${issuer}/token`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({ grant_type: "authorization_code", code, redirect_uri: REDIRECT_URI, client_id: CLIENT_ID, code_verifier: verifier }) });
        const body = await tok.json();
        if (!body.id_token) throw new Error(`token endpoint: ${JSON.stringify(body)}`);
        return body.id_token;
      }
      res = await go(loc.href);
      continue;
    }
    const html = await res.text();
    const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
    const prompt = /name="prompt" value="(\w+)"/.exec(html)?.[1];
    if (!action || !form[prompt]) throw new Error(`unexpected page (${res.status}): ${html.slice(0, 300)}`);
    res = await go(new URL(action, issuer).href, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(form[prompt]) });
  }
  throw new Error("login did not finish");
}
