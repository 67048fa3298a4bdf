// The API explorer at /graphql: GraphiQL under a login bar. The bar logs in with a provider
// the server lists as enabled (or takes a pasted root token), with a button per OpenID/OAuth
// provider and one for passkeys, asks for the second factor of a user who has one (a code
// or a passkey), keeps the tokens in memory (session.js), shows who the viewer is and logs
// out. GraphiQL's headers editor still sends any other Authorization header, which then wins
// over the bar's token.
import { GraphiQL } from "graphiql";
import { createElement } from "react";
import { createRoot } from "react-dom/client";
// The one login module, shared with the console (which loads it unbundled).
import { MfaRequired, Session, post } from "../../bastion/http/static/console/session.js";

// The server fills in a query of the project's own first type.
const DEFAULT_QUERY = `# Log in above, then run this with the ▶ button.
${document.body.dataset.example || "{ viewer { user { email } } }\n"}`;

const $ = (id) => document.getElementById(id);
const EXPLORER_PATH = "/graphql";
const VERIFIER_KEY = "bastion_explorer_verifier";
const b64url = (bytes) =>
  btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const session = new Session(() => viewerChanged());
let root = null;
let generation = 0;
let pending = null; // the MfaRequired of a login waiting for its second factor

// A login failed: ask for the second factor when that is what it needs, else say why.
function failed(error) {
  if (error instanceof MfaRequired) askSecondFactor(error);
  else $("error").textContent = error.message;
}

// The bar's second step: the first step's form and buttons give way to a code field (and a
// passkey button when the user has a passkey) until the login completes or is cancelled.
function askSecondFactor(required) {
  pending = required;
  $("error").textContent = "";
  $("mfa-code").value = "";
  $("mfa-passkey").hidden = !(required.factors.includes("webauthn") && window.PublicKeyCredential);
  showSteps();
  $("mfa-code").focus();
}

function showSteps() {
  const asking = pending !== null;
  $("mfa").hidden = !asking;
  $("login").hidden = asking || Boolean(session.token);
  $("signin").hidden = asking || Boolean(session.token);
}

async function completeWithCode(event) {
  event.preventDefault();
  $("error").textContent = "";
  try {
    await session.completeMfa(pending.challenge, $("mfa-code").value.trim());
    $("mfa-code").value = "";
    pending = null;
    showSteps();
  } catch (error) {
    $("error").textContent = error.message;
  }
}

// The second factor with a passkey: options bound to the login's challenge, then the login.
async function completeWithPasskey() {
  const body = await post(
    "mutation ($m: String) { passkeyLoginOptions(input: {mfaChallenge: $m}) }",
    { m: pending.challenge },
  );
  if (body.errors && body.errors.length) throw new Error(body.errors[0].message);
  const credential = await askPasskey(body.data.passkeyLoginOptions);
  await session.login("loginPasskey", { credential, mfaChallenge: pending.challenge });
  pending = null;
  showSteps();
}

function cancelSecondFactor() {
  pending = null;
  $("mfa-code").value = "";
  $("error").textContent = "";
  showSteps();
}

function fetcher(params, options) {
  const headers = (options && options.headers) || {};
  return session.request(params.query, params.variables, headers);
}

function render() {
  // A new key when the viewer changes: GraphiQL fetches the schema again, as a root token
  // sees more of it than anyone else.
  root.render(
    createElement(GraphiQL, {
      key: generation,
      fetcher,
      defaultQuery: DEFAULT_QUERY,
      shouldPersistHeaders: false,
      isHeadersEditorEnabled: true,
    }),
  );
}

function showMethodFields() {
  const method = $("method").value;
  for (const el of document.querySelectorAll("[data-for]")) {
    el.hidden = !el.dataset.for.split(" ").includes(method);
  }
}

async function viewerChanged() {
  const loggedIn = Boolean(session.token);
  showSteps();
  $("logout").hidden = !loggedIn;
  $("viewer").textContent = "";
  if (loggedIn) {
    const body = await session.request("{ viewer { isRoot user { id email } } }");
    const viewer = body.data && body.data.viewer;
    if (viewer && viewer.isRoot) $("viewer").textContent = "Root token";
    else if (viewer && viewer.user) $("viewer").textContent = viewer.user.email || `User ${viewer.user.id}`;
  } else {
    $("viewer").textContent = "Anonymous";
  }
  $("refreshed").textContent = session.refreshedAt
    ? `Token refreshed at ${session.refreshedAt.toLocaleTimeString()}`
    : "";
  generation += 1;
  render();
}

async function login(event) {
  event.preventDefault();
  $("error").textContent = "";
  const method = $("method").value;
  try {
    if (method === "local-userpass") {
      await session.login("loginEmailPassword", { email: $("email").value, password: $("password").value });
    } else if (method === "anon-user") {
      await session.login("loginAnonymous", null);
    } else if (method === "api-key") {
      await session.login("loginApiKey", { key: $("secret").value });
    } else if (method === "custom-token") {
      await session.login("loginCustomToken", { token: $("secret").value });
    } else if (method === "root") {
      await session.useRootToken($("secret").value.trim());
    }
    $("password").value = "";
    $("secret").value = "";
  } catch (error) {
    if (error instanceof MfaRequired) $("password").value = "";
    failed(error);
  }
}

// The provider's browser flow leaves this page, and memory with it: the PKCE verifier waits
// in sessionStorage (this tab only) for the one-time code that comes back in the address's
// fragment. It is no token: worth something only with that code, and removed on return.
async function beginSignIn(name) {
  const verifier = b64url(crypto.getRandomValues(new Uint8Array(32)));
  const challenge = b64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  sessionStorage.setItem(VERIFIER_KEY, verifier);
  const query = new URLSearchParams({ redirect_url: EXPLORER_PATH, code_challenge: challenge });
  location.assign(`/auth/openid/${encodeURIComponent(name)}/start?${query}`);
}

// Back from the provider: #bastion_code=... (or #error=...) leaves the address bar at once,
// and the code and the verifier become tokens held in memory.
async function finishSignIn() {
  const params = new URLSearchParams(location.hash.slice(1));
  const code = params.get("bastion_code");
  const failed = params.get("error");
  if (!code && !failed) return;
  history.replaceState(null, "", location.pathname + location.search);
  const verifier = sessionStorage.getItem(VERIFIER_KEY);
  sessionStorage.removeItem(VERIFIER_KEY);
  if (failed || !verifier) {
    $("error").textContent = `Sign-in failed: ${failed || "this tab did not start it"}`;
    return;
  }
  await session.login("loginOpenIdCode", { code, codeVerifier: verifier });
}

// navigator.credentials.get with the server's options: the credential, as loginPasskey takes it.
async function askPasskey(options) {
  const publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(JSON.parse(options));
  const credential = await navigator.credentials.get({ publicKey });
  return JSON.stringify(credential.toJSON());
}

// Any passkey of this site (no email typed).
async function loginPasskey() {
  const body = await post("mutation { passkeyLoginOptions }");
  if (body.errors && body.errors.length) throw new Error(body.errors[0].message);
  const credential = await askPasskey(body.data.passkeyLoginOptions);
  await session.login("loginPasskey", { credential });
}

function signInButton(id, label, action) {
  const button = document.createElement("button");
  button.type = "button";
  button.id = id;
  button.textContent = label;
  button.addEventListener("click", () => {
    $("error").textContent = "";
    action().catch(failed);
  });
  $("signin").append(button);
}

function start() {
  const enabled = (document.body.dataset.providers || "").split(" ").filter(Boolean);
  for (const option of $("method").options) {
    if (option.value !== "root" && !enabled.includes(option.value)) option.remove();
  }
  $("method").addEventListener("change", showMethodFields);
  $("login").addEventListener("submit", login);
  $("logout").addEventListener("click", () => session.logout());
  $("mfa").addEventListener("submit", completeWithCode);
  $("mfa-cancel").addEventListener("click", cancelSecondFactor);
  $("mfa-passkey").addEventListener("click", () => {
    $("error").textContent = "";
    completeWithPasskey().catch((error) => {
      $("error").textContent = error.message;
    });
  });
  for (const name of (document.body.dataset.openid || "").split(" ").filter(Boolean)) {
    signInButton(`openid-${name}`, `Sign in with ${name}`, () => beginSignIn(name));
  }
  if (document.body.dataset.passkeys === "on" && window.PublicKeyCredential) {
    signInButton("passkey", "Sign in with a passkey", loginPasskey);
  }
  showMethodFields();
  root = createRoot($("graphiql"));
  viewerChanged();
  finishSignIn().catch(failed);
}

start();
