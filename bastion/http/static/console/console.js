// The admin console: plain DOM, no framework. It speaks only /graphql with a root token held
// in memory (session.js), through the root-only fields of the API, so it can do nothing a root
// token could not do with curl. Text from the server is set with textContent, never as HTML.
import { Session, post } from "./session.js";

const session = new Session(() => changed());
const $ = (id) => document.getElementById(id);

// h("td", {class: "x", onclick: f}, "text", child...): an element; strings become text.
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (value !== undefined && value !== null && value !== false) el.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

function table(headings, rows) {
  return h("table", {}, h("thead", {}, h("tr", {}, headings.map((t) => h("th", {}, t)))), h("tbody", {}, rows));
}

const when = (value) => (value ? new Date(value).toLocaleString() : "never");

async function gql(query, variables) {
  const body = await session.request(query, variables);
  if (body.errors && body.errors.length) throw new Error(body.errors[0].message);
  return body.data;
}

function show(...children) {
  $("error").textContent = "";
  $("page").replaceChildren(...children);
}

// Runs an action; its error is shown rather than lost.
function guarded(action) {
  return async (event) => {
    if (event && event.preventDefault) event.preventDefault();
    $("error").textContent = "";
    try {
      await action(event);
    } catch (error) {
      $("error").textContent = error.message;
    }
  };
}

// -- Users ---------------------------------------------------------------------------------

const USER = "id email username firstName lastName isActive createdAt";

async function usersPage(search = "", picked = null) {
  const where = search ? { OR: [{ email_contains: search }, { username_contains: search }] } : null;
  const data = await gql(
    `query Users($where: UserWhereInput) { users(where: $where, orderBy: [email_ASC], first: 200) { ${USER} } }`,
    { where },
  );
  const input = h("input", { type: "search", placeholder: "Search email or username", value: search, "aria-label": "Search users" });
  const searchForm = h("form", { class: "row", onsubmit: guarded(() => usersPage(input.value.trim())) }, input, h("button", { type: "submit" }, "Search"));
  const rows = data.users.map((u) =>
    h("tr", { class: picked === u.id ? "picked" : null, "data-email": u.email || "" },
      h("td", {}, h("button", { class: "link", type: "button", onclick: guarded(() => usersPage(search, u.id)) }, u.email || u.username || u.id)),
      h("td", {}, [u.firstName, u.lastName].filter(Boolean).join(" ")),
      h("td", {}, u.isActive ? "active" : "deactivated"),
      h("td", {}, when(u.createdAt))),
  );
  const detail = picked ? await userDetail(data.users.find((u) => u.id === picked), search) : null;
  show(
    h("div", { class: "card" }, h("h2", {}, "Users"), searchForm, table(["Email", "Name", "State", "Created"], rows)),
    detail,
    newUserForm(search),
  );
}

async function userDetail(user, search) {
  if (!user) return null;
  const data = await gql(
    `query Detail($id: ID!) { userSessions(userId: $id) { id provider userAgent deviceId createdAt lastUsedAt }
      userIdentities(userId: $id) { provider subject createdAt } }`,
    { id: user.id },
  );
  const again = () => usersPage(search, user.id);
  const toggle = user.isActive
    ? h("button", { class: "danger", type: "button", onclick: guarded(async () => {
        await gql("mutation($id: ID!) { deactivateUser(id: $id) { id } }", { id: user.id });
        await again();
      }) }, "Deactivate")
    : h("button", { type: "button", onclick: guarded(async () => {
        await gql("mutation($id: ID!) { activateUser(id: $id) { id } }", { id: user.id });
        await again();
      }) }, "Activate");
  const end = h("button", { class: "danger", type: "button", onclick: guarded(async () => {
    await gql("mutation($id: ID!) { revokeSessions(userId: $id) }", { id: user.id });
    await again();
  }) }, "End all sessions");
  return h("div", { class: "card", id: "user-detail" },
    h("h2", {}, user.email || user.id),
    h("p", { class: "muted" }, `id ${user.id} · ${user.isActive ? "active" : "deactivated"}`),
    h("div", { class: "row" }, toggle, end),
    h("h3", {}, "Identities"),
    table(["Provider", "Account", "Since"], data.userIdentities.map((i) =>
      h("tr", {}, h("td", {}, i.provider), h("td", {}, i.subject), h("td", {}, when(i.createdAt))))),
    h("h3", {}, "Sessions"),
    data.userSessions.length
      ? table(["Provider", "Device", "Started", "Last used"], data.userSessions.map((s) =>
          h("tr", {}, h("td", {}, s.provider), h("td", {}, s.userAgent || s.deviceId || "unknown"),
            h("td", {}, when(s.createdAt)), h("td", {}, when(s.lastUsedAt)))))
      : h("p", { class: "muted" }, "No live session."),
  );
}

function newUserForm(search) {
  const email = h("input", { type: "email", placeholder: "Email", "aria-label": "New user's email", required: true });
  const password = h("input", { type: "password", placeholder: "Password", "aria-label": "New user's password", required: true });
  const first = h("input", { placeholder: "First name", "aria-label": "First name" });
  const create = guarded(async () => {
    const input = { email: email.value, password: password.value, firstName: first.value || null };
    await gql("mutation($input: createUserWithPasswordInput!) { createUserWithPassword(input: $input) { id } }", { input });
    await usersPage(search);
  });
  return h("form", { class: "card", onsubmit: create }, h("h2", {}, "Create a user"),
    h("div", { class: "row" }, email, password, first, h("button", { type: "submit" }, "Create")));
}

// -- Integrations (server API keys) ----------------------------------------------------------

async function integrationsPage(created = null) {
  const data = await gql("{ serverApiKeys { name createdAt lastUsedAt disabled } }");
  const name = h("input", { placeholder: "Name, e.g. billing-service", "aria-label": "Credential name", required: true });
  const create = guarded(async () => {
    const made = await gql("mutation($n: String!) { createServerApiKey(name: $n) { secret key { name } } }", { n: name.value });
    await integrationsPage(made.createServerApiKey);
  });
  const rows = data.serverApiKeys.map((k) =>
    h("tr", {}, h("td", {}, k.name), h("td", {}, when(k.createdAt)), h("td", {}, when(k.lastUsedAt)),
      h("td", {}, k.disabled ? "disabled" : "enabled"),
      h("td", {}, h("button", { class: "danger", type: "button", onclick: guarded(async () => {
        await gql("mutation($n: String!) { deleteServerApiKey(name: $n) }", { n: k.name });
        await integrationsPage();
      }) }, "Revoke"))));
  show(
    h("form", { class: "card", onsubmit: create }, h("h2", {}, "New server credential"),
      h("p", { class: "muted" }, "A server logs in with it through loginApiKey, as a user of its own."),
      h("div", { class: "row" }, name, h("button", { type: "submit" }, "Create"))),
    created ? shownOnce(`The key of ${created.key.name}`, created.secret, "new-secret") : null,
    h("div", { class: "card" }, h("h2", {}, "Server credentials"),
      rows.length ? table(["Name", "Created", "Last used", "State", ""], rows) : h("p", { class: "muted" }, "None yet.")),
  );
}

function shownOnce(title, secret, id) {
  return h("div", { class: "card" }, h("h2", {}, title),
    h("p", {}, "Copy it now: it is shown only this once and cannot be read again."),
    h("div", { class: "secret", id }, secret));
}

// -- Root tokens and signing keys ------------------------------------------------------------

async function rootTokensPage(rotated = null) {
  const data = await gql("{ rootTokens { name createdAt rotatedAt lastUsedAt } }");
  const rows = data.rootTokens.map((t) =>
    h("tr", { "data-name": t.name }, h("td", {}, t.name), h("td", {}, when(t.createdAt)), h("td", {}, when(t.rotatedAt)),
      h("td", {}, when(t.lastUsedAt)),
      h("td", {}, h("button", { class: "danger", type: "button", onclick: guarded(async () => {
        const made = await gql("mutation($n: String!) { rotateRootToken(name: $n) { name token } }", { n: t.name });
        const fresh = made.rotateRootToken;
        // When the console's own token was the one rotated, it no longer works: carry on
        // with the new one.
        const check = await post("{ viewer { isRoot } }", null, session.token);
        if (check.errors) session.access = fresh.token;
        await rootTokensPage(fresh);
      }) }, "Rotate"))));
  show(
    rotated ? shownOnce(`New root token ${rotated.name}`, rotated.token, "new-token") : null,
    h("div", { class: "card" }, h("h2", {}, "Root tokens"),
      h("p", { class: "muted" }, "Declared under root_tokens in bastion.yml. Rotating one makes the old token stop working at once."),
      table(["Name", "Created", "Rotated", "Last used", ""], rows)),
  );
}

async function keysPage() {
  const data = await gql("{ signingKeys { kid algorithm status createdAt activatesAt retiredAt prunableAt } }");
  const rotate = h("button", { type: "button", onclick: guarded(async () => {
    await gql("mutation { rotateSigningKey { kid } }");
    await keysPage();
  }) }, "Rotate");
  show(h("div", { class: "card" }, h("h2", {}, "Signing keys"),
    h("p", { class: "muted" }, "A new key is published at once and signs a few minutes later, once every worker has read it."),
    h("div", { class: "row" }, rotate),
    table(["Key id", "Algorithm", "Status", "Created", "Signs from", "Retired", "Prunable"],
      data.signingKeys.map((k) => h("tr", {}, h("td", {}, k.kid || "(legacy)"), h("td", {}, k.algorithm), h("td", {}, k.status),
        h("td", {}, when(k.createdAt)), h("td", {}, when(k.activatesAt)), h("td", {}, when(k.retiredAt)), h("td", {}, when(k.prunableAt)))))));
}

// -- Audit log ------------------------------------------------------------------------------

const AUDIT = "id at type security userId provider ip userAgent detail";
let tail = null; // the live tail's timer

async function auditPage() {
  const types = ["", "login", "login_failed", "rate_limited", "refresh", "refresh_reuse", "logout",
    "session_revoked", "sessions_revoked", "user_deactivated", "user_activated", "email_changed",
    "root_token_used", "key_rotated", "key_pruned", "permission_denied", "admin_action"];
  const type = h("select", { "aria-label": "Event type" }, types.map((t) => h("option", { value: t }, t || "every type")));
  const user = h("input", { placeholder: "User id", "aria-label": "User id" });
  const live = h("input", { type: "checkbox", "aria-label": "Live tail" });
  const body = h("tbody", {});
  let last = 0;
  const line = (e) => h("tr", { "data-type": e.type }, h("td", {}, when(e.at)), h("td", {}, e.type + (e.security ? " ⚠" : "")),
    h("td", {}, e.userId || ""), h("td", {}, e.provider || ""), h("td", {}, e.ip || ""), h("td", {}, JSON.stringify(e.detail)));
  const filters = () => ({ type: type.value ? [type.value] : null, userId: user.value.trim() || null });
  const load = guarded(async () => {
    const data = await gql(`query($type: [String!], $userId: ID) { auditEvents(first: 100, type: $type, userId: $userId) { ${AUDIT} } }`, filters());
    body.replaceChildren(...data.auditEvents.map(line));
    last = data.auditEvents.length ? data.auditEvents[0].id : last;
  });
  const poll = guarded(async () => {
    const data = await gql(`query($type: [String!], $userId: ID, $after: Int) { auditEvents(first: 100, type: $type, userId: $userId, after: $after) { ${AUDIT} } }`, { ...filters(), after: last });
    for (const e of data.auditEvents) {
      body.prepend(line(e));
      last = e.id;
    }
  });
  live.addEventListener("change", () => {
    clearInterval(tail);
    tail = live.checked ? setInterval(poll, 2000) : null;
  });
  show(h("div", { class: "card" }, h("h2", {}, "Audit log"),
    h("form", { class: "row", onsubmit: load }, type, user, h("button", { type: "submit" }, "Filter"),
      h("label", {}, live, " Live tail")),
    h("table", { id: "audit" }, h("thead", {}, h("tr", {}, ["When", "Event", "User", "Provider", "IP", "Detail"].map((t) => h("th", {}, t)))), body)));
  await load();
}

// -- Data (read-only, through the same API and its rules) ------------------------------------

const TYPE_REF = "kind name ofType { kind name ofType { kind name ofType { kind name } } }";

function named(ref) {
  let list = false;
  while (ref.ofType) {
    if (ref.kind === "LIST") list = true;
    ref = ref.ofType;
  }
  return { type: ref.name, kind: ref.kind, list };
}

async function dataPage(typeName = null, where = "") {
  const project = await gql("{ projectSettings }");
  const types = project.projectSettings.types;
  typeName = typeName || types[0];
  const schema = await gql(`query($t: String!) { __schema { queryType { fields { name args { name } type { ${TYPE_REF} } } } }
    __type(name: $t) { fields { name type { ${TYPE_REF} } } } }`, { t: typeName });
  const listField = schema.__schema.queryType.fields.find((f) => {
    const t = named(f.type);
    return t.list && t.type === typeName && f.args.some((a) => a.name === "where");
  });
  const fields = schema.__type.fields.map((f) => ({ name: f.name, ...named(f.type) }));
  const scalars = fields.filter((f) => ["SCALAR", "ENUM"].includes(f.kind) && !f.list);
  const links = fields.filter((f) => f.kind === "OBJECT" && types.includes(f.type));
  const selection = [
    ...scalars.map((f) => f.name),
    ...links.map((f) => (f.list ? `${f.name}(first: 5) { id }` : `${f.name} { id }`)),
  ].join(" ");
  const picker = h("select", { "aria-label": "Type" }, types.map((t) => h("option", { value: t, selected: t === typeName ? "" : null }, t)));
  const filter = h("input", { placeholder: 'where, as JSON: {"title_contains": "a"}', value: where, size: 50, "aria-label": "Filter" });
  const form = h("form", { class: "row", onsubmit: guarded(() => dataPage(picker.value, filter.value.trim())) },
    picker, filter, h("button", { type: "submit" }, "Show"));
  let rows = [];
  if (listField) {
    const variables = { where: where ? JSON.parse(where) : null };
    const data = await gql(`query($where: ${typeName}WhereInput) { rows: ${listField.name}(where: $where, first: 50) { ${selection} } }`, variables);
    const follow = (link, id) => h("button", { class: "link", type: "button", onclick: guarded(() => dataPage(link.type, JSON.stringify({ id }))) }, id);
    rows = data.rows.map((node) => h("tr", {},
      scalars.map((f) => h("td", {}, node[f.name] === null ? "" : typeof node[f.name] === "object" ? JSON.stringify(node[f.name]) : String(node[f.name]))),
      links.map((f) => h("td", {}, f.list ? (node[f.name] || []).map((n) => follow(f, n.id)) : node[f.name] ? follow(f, node[f.name].id) : ""))));
  }
  show(h("div", { class: "card" }, h("h2", {}, "Data"),
    h("p", { class: "muted" }, "Read-only, through the GraphQL API and its rules. Click an id to follow a relation."),
    form, table([...scalars.map((f) => f.name), ...links.map((f) => `${f.name} →`)], rows)));
}

// -- Project --------------------------------------------------------------------------------

async function projectPage() {
  const data = await gql("{ projectSettings }");
  const p = data.projectSettings;
  show(
    h("div", { class: "card" }, h("h2", {}, `${p.name} (${p.mode})`), h("p", {}, `Types: ${p.types.join(", ")}`)),
    h("div", { class: "card" }, h("h2", {}, "Model"), h("pre", {}, p.schema)),
    h("div", { class: "card" }, h("h2", {}, "Effective settings (secrets masked)"), h("pre", { id: "settings" }, JSON.stringify(p.settings, null, 2))),
  );
}

// -- Navigation and login -------------------------------------------------------------------

const PAGES = {
  users: () => usersPage(),
  integrations: () => integrationsPage(),
  "root-tokens": () => rootTokensPage(),
  keys: keysPage,
  audit: auditPage,
  data: () => dataPage(),
  project: projectPage,
};

async function open(name) {
  clearInterval(tail);
  tail = null;
  for (const button of document.querySelectorAll("#tabs button")) {
    if (button.dataset.page === name) button.setAttribute("aria-current", "page");
    else button.removeAttribute("aria-current");
  }
  await guarded(PAGES[name])();
}

function changed() {
  const inside = Boolean(session.token);
  $("login").hidden = inside;
  $("tabs").hidden = !inside;
  $("logout").hidden = !inside;
  $("page").hidden = !inside;
  if (inside) open("users");
  else $("page").replaceChildren();
}

async function login(event) {
  event.preventDefault();
  $("login-error").textContent = "";
  const token = $("root-token").value.trim();
  $("root-token").value = "";
  try {
    await session.useRootToken(token);
  } catch (error) {
    $("login-error").textContent = error.message;
  }
}

$("login").addEventListener("submit", login);
$("logout").addEventListener("click", () => {
  clearInterval(tail);
  session.logoutLocally();
});
for (const button of document.querySelectorAll("#tabs button")) {
  button.addEventListener("click", () => open(button.dataset.page));
}
changed();
