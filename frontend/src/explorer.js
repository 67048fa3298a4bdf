// The API explorer at /graphql: GraphiQL under a login bar. The bar logs in with a provider
// the server lists as enabled (or takes a pasted root token), keeps the tokens in memory
// (session.js), shows who the viewer is and logs out. GraphiQL's headers editor still sends
// any other Authorization header, which then wins over the bar's token.
import { GraphiQL } from "graphiql";
import { createElement } from "react";
import { createRoot } from "react-dom/client";
// The one login module, shared with the console (which loads it unbundled).
import { Session } from "../../bastion/http/static/console/session.js";

// The server fills in a query of the project's own first type.
const DEFAULT_QUERY = `# Log in above, then run this with the ▶ button.
${document.body.dataset.example || "{ viewer { user { email } } }\n"}`;

const $ = (id) => document.getElementById(id);
const session = new Session(() => viewerChanged());
let root = null;
let generation = 0;

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
  $("login").hidden = loggedIn;
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
    $("error").textContent = error.message;
  }
}

function start() {
  const enabled = (document.body.dataset.providers || "").split(" ").filter(Boolean);
  for (const option of $("method").options) {
    if (option.value !== "root" && !enabled.includes(option.value)) option.remove();
  }
  $("method").addEventListener("change", showMethodFields);
  $("login").addEventListener("submit", login);
  $("logout").addEventListener("click", () => session.logout());
  showMethodFields();
  root = createRoot($("graphiql"));
  viewerChanged();
}

start();
