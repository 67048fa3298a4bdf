// Drives realm-web 2.0.1 against a running `bastion serve`, the way an app would use it.
//
//   node realm_web.js '{"base": "http://127.0.0.1:PORT", "appId": "...", "email": "...",
//                      "password": "...", "jwt": "<HS256 token for custom-token>"}'
//
// Prints one JSON line per step ({"step": name, ...what the app sees}); tests/e2e/test_sdks.py
// asserts on them. A {"step": "expire"} line asks the test to move the server's clock past the
// access-token lifetime; the script waits for a line on stdin before going on. Any failure
// prints {"step": "error", message, statusCode, errorCode} and exits 1; so does the time limit.
"use strict";

const readline = require("node:readline");
const Realm = require("realm-web");
const { out, failure, show, run } = require("./steps.js");

const config = JSON.parse(process.argv[2]);

const ME = "{ viewer { user { id email } } }";
const CREATE_NOTE = "mutation ($text: String!) { createNote(data: {text: $text}) { text } }";
const { BSON } = Realm;
// One argument of each kind, sent in canonical Extended JSON by the SDK.
const mixed = () => [
  1,
  2.5,
  "héllo ☃ 😀",
  { nested: { list: [1, "two", null, true] } },
  new BSON.ObjectId("5f1d7c3a9b1e8a0012345678"),
  new Date(Date.UTC(2020, 0, 1, 0, 0, 0, 123)),
  BSON.Long.fromString("1099511627776"),
  BSON.Decimal128.fromString("1.10"),
];

// -- plumbing (the same in stitch_server.js) ------------------------------------------------

const stdin = readline.createInterface({ input: process.stdin });
const waiting = [];
stdin.on("line", () => waiting.shift()?.());

/** Let the test move the server's clock, and wait until it has. */
function expire() {
  return new Promise((resolve) => {
    waiting.push(resolve);
    out("expire");
  });
}

/** A plain HTTP call (what the SDK has no method for): status, exact content type, JSON body. */
async function http(method, url, token, body) {
  const headers = token ? { Authorization: `Bearer ${token}` } : {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(url, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return {
    status: response.status,
    contentType: response.headers.get("content-type"),
    body: text ? JSON.parse(text) : null,
  };
}

// -- the app ---------------------------------------------------------------------------------

const providers = (user) => user.identities.map((identity) => identity.providerType);

run(async () => {
  const { appId, email, password } = config;
  // No skipLocationRequest: like any app, the SDK first asks the location route for the
  // hostname that every later request goes to.
  const app = new Realm.App({ id: appId, baseUrl: config.base });
  const hostname = await app.locationUrl;
  out("location", { hostname });

  // The documented way to call GraphQL: plain HTTP with the SDK user's access token.
  const graphqlUrl = `${hostname}/api/client/v2.0/app/${appId}/graphql`;
  const graphql = (token, query, variables) => http("POST", graphqlUrl, token, { query, variables });
  const sessionUrl = `${hostname}/api/client/v2.0/auth/session`;
  const profileUrl = `${hostname}/api/client/v2.0/auth/profile`;

  const anon = await app.logIn(Realm.Credentials.anonymous());
  out("anon", {
    id: anon.id,
    providerType: anon.providerType,
    identities: providers(anon),
    deviceId: anon.deviceId,
  });

  await app.emailPasswordAuth.registerUser({ email, password });
  out("register", { again: await failure(app.emailPasswordAuth.registerUser({ email, password })) });
  out("wrong-password", {
    error: await failure(app.logIn(Realm.Credentials.emailPassword(email, `not ${password}`))),
  });

  // A second login on this app: realm-web now sends the device id the first one got back.
  const user = await app.logIn(Realm.Credentials.emailPassword(email, password));
  out("userpass", {
    id: user.id,
    providerType: user.providerType,
    email: user.profile.email,
    identities: providers(user),
    deviceId: user.deviceId,
    current: app.currentUser === user,
  });
  out("graphql", {
    me: await graphql(user.accessToken, ME),
    note: await graphql(user.accessToken, CREATE_NOTE, { text: "from realm-web" }),
  });

  // Callable functions: the functions proxy and callFunction, canonical EJSON both ways.
  const described = await user.functions.describe(...mixed());
  out("functions", {
    sum: await user.functions.sum(1, 2.5),
    callFunction: await user.callFunction("sum", 1, 2),
    types: described.types,
    echo: described.echo.map(show),
    caller: described.caller,
    refused: await failure(user.functions.refuse()),
    unknown: await failure(user.callFunction("nope", 1)),
  });

  const custom = await app.logIn(Realm.Credentials.jwt(config.jwt));
  out("custom-token", {
    id: custom.id,
    providerType: custom.providerType,
    identities: providers(custom),
    firstName: custom.profile.firstName,
    customData: custom.customData,
    me: await graphql(custom.accessToken, ME),
  });

  // API keys are managed with the user's refresh token (the SDK sends it).
  const key = await user.apiKeys.create("sdk-key");
  out("api-key-created", {
    id: String(key._id),
    idType: typeof key._id,
    name: key.name,
    disabled: key.disabled,
    keyType: typeof key.key,
  });

  // The access token expires; the refresh token (a session token) stays valid until logout.
  const login = { access: user.accessToken, refresh: user.refreshToken };
  await expire();
  const stale = {
    graphql: await graphql(login.access, ME),
    profile: await http("GET", profileUrl, login.access),
  };
  await user.refreshAccessToken();
  const first = user.accessToken;
  const firstMe = await graphql(first, ME);
  // realm-web keeps the refresh token of the login and sends it again.
  await user.refreshAccessToken();
  out("refresh", {
    stale,
    firstChanged: first !== login.access,
    firstMe,
    secondChanged: user.accessToken !== login.access,
    sameRefreshToken: user.refreshToken === login.refresh,
    secondMe: await graphql(user.accessToken, ME),
  });

  // The SDK's own call with an expired token: 401 InvalidSession, refresh, retry, all inside.
  await expire();
  const expired = user.accessToken;
  await user.refreshProfile();
  out("auto-refresh", { changed: user.accessToken !== expired, email: user.profile.email });

  // A function called with an expired token: the SDK refreshes on the 401 and calls again.
  await expire();
  const beforeCall = user.accessToken;
  const afterExpiry = await user.functions.sum(2, 3);
  out("function-after-expiry", { result: afterExpiry, refreshed: user.accessToken !== beforeCall });

  await user.logOut();
  out("logout", {
    state: user.state,
    refreshToken: user.refreshToken,
    refused: await http("POST", sessionUrl, login.refresh),
  });

  // The key outlives the session that made it: it logs the same user in.
  const keyUser = await app.logIn(Realm.Credentials.apiKey(key.key));
  out("api-key-login", {
    id: keyUser.id,
    sameObject: keyUser === user,
    identities: providers(keyUser),
    me: await graphql(keyUser.accessToken, ME),
  });

  // The rest of the key routes, from the API-key session.
  const other = await keyUser.apiKeys.create("other-key");
  const fetched = await keyUser.apiKeys.fetch(key._id);
  const listed = await keyUser.apiKeys.fetchAll();
  await keyUser.apiKeys.disable(other._id);
  const disabled = await keyUser.apiKeys.fetch(other._id);
  const disabledLogin = await failure(app.logIn(Realm.Credentials.apiKey(other.key)));
  await keyUser.apiKeys.enable(other._id);
  const enabledLogin = await app.logIn(Realm.Credentials.apiKey(other.key));
  // Same user id, so realm-web put that session's tokens on the same User object; deleting
  // the key ends its sessions, so switch back to a session of the first key before.
  await app.logIn(Realm.Credentials.apiKey(key.key));
  await keyUser.apiKeys.delete(other._id);
  out("api-keys", {
    fetched: { id: String(fetched._id), name: fetched.name, disabled: fetched.disabled },
    fetchedHasKey: "key" in fetched,
    listed: listed.map((k) => k.name).sort(),
    disabled: disabled.disabled,
    disabledLogin,
    enabledLogin: enabledLogin.id,
    afterDelete: (await keyUser.apiKeys.fetchAll()).map((k) => k.name),
    deletedLogin: await failure(app.logIn(Realm.Credentials.apiKey(other.key))),
  });
});
