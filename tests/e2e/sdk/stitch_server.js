// Drives mongodb-stitch-server-sdk 4.9.0 against a running `bastion serve`, as an app would.
//
//   node stitch_server.js '{"base": "http://127.0.0.1:PORT", "appId": "...", "email": "...",
//                          "password": "...", "jwt": "<HS256 token>", "dataDir": "<folder>"}'
//
// Same protocol as realm_web.js: one JSON line per step, {"step": "expire"} then a line on
// stdin to go on, {"step": "error", ...} and exit 1 on any failure or after the time limit.
//
// The Stitch SDK has no public getter for the tokens; `client.auth.authInfo` (CoreStitchAuth,
// what its own token refresher reads) is where they are. `auth.refreshCustomData()` is its
// public way to refresh the access token.
"use strict";

const readline = require("node:readline");
const { out, failure, show, run } = require("./steps.js");
const {
  Stitch,
  StitchAppClientConfiguration,
  AnonymousCredential,
  UserPasswordCredential,
  UserPasswordAuthProviderClient,
  UserApiKeyCredential,
  UserApiKeyAuthProviderClient,
  CustomCredential,
  BSON,
} = require("mongodb-stitch-server-sdk");

const config = JSON.parse(process.argv[2]);

const ME = "{ viewer { user { id email } } }";
const CREATE_NOTE = "mutation ($text: String!) { createNote(data: {text: $text}) { text } }";
// One argument of each kind, sent in canonical Extended JSON by the SDK (as in realm_web.js).
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

// -- plumbing (the same in realm_web.js) ----------------------------------------------------

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
  // The SDK asks the location route for the hostname on its first request (and keeps it).
  const client = Stitch.initializeAppClient(
    appId,
    new StitchAppClientConfiguration.Builder()
      .withBaseUrl(config.base)
      .withDataDirectory(config.dataDir)
      .build(),
  );
  const auth = client.auth;
  const api = `${config.base}/api/client/v2.0`;
  const graphql = (token, query, variables) =>
    http("POST", `${api}/app/${appId}/graphql`, token, { query, variables });

  const anon = await auth.loginWithCredential(new AnonymousCredential());
  out("anon", {
    id: anon.id,
    providerType: anon.loggedInProviderType,
    identities: providers(anon),
    deviceId: auth.authInfo.deviceId,
  });

  const userpass = auth.getProviderClient(UserPasswordAuthProviderClient.factory);
  await userpass.registerWithEmail(email, password);
  out("register", { again: await failure(userpass.registerWithEmail(email, password)) });
  out("wrong-password", {
    error: await failure(auth.loginWithCredential(new UserPasswordCredential(email, "x" + password))),
  });

  // A second login: Stitch sends the device id of the active session as a plain string.
  const user = await auth.loginWithCredential(new UserPasswordCredential(email, password));
  out("userpass", {
    id: user.id,
    providerType: user.loggedInProviderType,
    email: user.profile.email,
    identities: providers(user),
    deviceId: auth.authInfo.deviceId,
    current: auth.user.id === user.id,
  });
  const login = { access: auth.authInfo.accessToken, refresh: auth.authInfo.refreshToken };
  out("graphql", {
    me: await graphql(login.access, ME),
    note: await graphql(login.access, CREATE_NOTE, { text: "from stitch" }),
  });

  // Callable functions: callFunction(name, args), canonical EJSON both ways.
  const described = await client.callFunction("describe", mixed());
  out("functions", {
    sum: await client.callFunction("sum", [1, 2.5]),
    types: described.types,
    echo: described.echo.map(show),
    caller: described.caller,
    refused: await failure(client.callFunction("refuse", [])),
    unknown: await failure(client.callFunction("nope", [1])),
  });

  // API keys are managed with the refresh token; `_id` comes back as a bson ObjectId.
  const keys = auth.getProviderClient(UserApiKeyAuthProviderClient.factory);
  const key = await keys.createApiKey("sdk-key");
  out("api-key-created", {
    id: key.id.toHexString(),
    name: key.name,
    disabled: key.disabled,
    keyType: typeof key.key,
  });
  const other = await keys.createApiKey("other-key");
  const fetched = await keys.fetchApiKey(key.id);
  const listed = await keys.fetchApiKeys();
  await keys.disableApiKey(other.id);
  const disabled = await keys.fetchApiKey(other.id);
  await keys.enableApiKey(other.id);
  const enabled = await keys.fetchApiKey(other.id);
  await keys.deleteApiKey(other.id);
  out("api-keys", {
    fetched: { id: fetched.id.toHexString(), name: fetched.name, disabled: fetched.disabled },
    fetchedKey: fetched.key ?? null,
    listed: listed.map((k) => k.name).sort(),
    disabled: disabled.disabled,
    enabled: enabled.disabled,
    afterDelete: (await keys.fetchApiKeys()).map((k) => k.name),
    fetchDeleted: await failure(keys.fetchApiKey(other.id)),
  });

  await expire();
  const stale = {
    graphql: await graphql(login.access, ME),
    profile: await http("GET", `${api}/auth/profile`, login.access),
  };
  // The SDK's own call with the expired token: 401 InvalidSession, refresh, call again.
  const expiredAccess = auth.authInfo.accessToken;
  const afterExpiry = await client.callFunction("sum", [2, 3]);
  out("function-after-expiry", {
    result: afterExpiry,
    refreshed: auth.authInfo.accessToken !== expiredAccess,
  });
  await auth.refreshCustomData();
  const first = auth.authInfo.accessToken;
  const firstMe = await graphql(first, ME);
  await auth.refreshCustomData(); // the same refresh token again
  out("refresh", {
    stale,
    firstChanged: first !== login.access,
    firstMe,
    secondChanged: auth.authInfo.accessToken !== login.access,
    sameRefreshToken: auth.authInfo.refreshToken === login.refresh,
    secondMe: await graphql(auth.authInfo.accessToken, ME),
  });

  await auth.logout();
  out("logout", {
    loggedIn: auth.isLoggedIn,
    refused: await http("POST", `${api}/auth/session`, login.refresh),
  });

  const keyUser = await auth.loginWithCredential(new UserApiKeyCredential(key.key));
  out("api-key-login", {
    id: keyUser.id,
    providerType: keyUser.loggedInProviderType,
    identities: providers(keyUser),
    me: await graphql(auth.authInfo.accessToken, ME),
  });

  // customData is the access token's user_data, but the server SDK's user factory drops it at
  // login (mongodb-stitch-server-core StitchUserFactoryImpl.js:11-12): it appears only once
  // refreshCustomData() has decoded a refreshed token (core CoreStitchAuth.js:195-197).
  const custom = await auth.loginWithCredential(new CustomCredential(config.jwt));
  const atLogin = custom.customData;
  await auth.refreshCustomData();
  out("custom-token", {
    id: custom.id,
    providerType: custom.loggedInProviderType,
    identities: providers(custom),
    firstName: custom.profile.firstName,
    customData: atLogin,
    afterRefresh: auth.user.customData,
    me: await graphql(auth.authInfo.accessToken, ME),
  });
});
