// Drives slicknode-client 0.4.1 with slicknode-auth-email-password 0.1.2 against a running
// `bastion serve`, the way a Slicknode app uses them:
//
//   node slicknode_client.js '{"base": "http://127.0.0.1:PORT", "email": "...", "password": "..."}'
//
// The client keeps its tokens in memory and refreshes before a request once its own clock says
// the access token has expired (this process runs on the server's fake clock); it does not
// single-flight that refresh, so two requests at expiry both refresh with the same refresh
// token. It calls the global fetch, which this script wraps to see what goes over the wire.
"use strict";

const { config, expire, out, post, recorder, revoke, run } = require("./steps");

const wire = recorder();
globalThis.fetch = wire.fetch;

const Client = require("slicknode-client").default;
const loginEmailPassword = require("slicknode-auth-email-password").default;

const ME = "{ viewer { user { id email } } }";
const REFRESH = `mutation ($token: String!) {
  refreshAuthToken(input: {refreshToken: $token}) { accessToken refreshToken }
}`;

run(async () => {
  const endpoint = `${config.base}/graphql`;
  const client = new Client({ endpoint });

  const tokens = await client.authenticate(loginEmailPassword(config.email, config.password));
  out("login", {
    hasAccessToken: client.hasAccessToken(),
    accessTokenLifetime: tokens.accessTokenLifetime,
    refreshTokenLifetime: tokens.refreshTokenLifetime,
    requests: wire.take(),
  });
  out("query", { result: await client.fetch(ME), requests: wire.take() });

  // The access token expires; two requests at once both refresh with the one refresh token.
  const before = client.getRefreshToken();
  await expire();
  const both = await Promise.all([client.fetch(ME), client.fetch(ME)]);
  const after = client.getRefreshToken();
  const requests = wire.take();
  out("concurrent-refresh", {
    results: both,
    rotated: after !== before,
    sentTheLoginsToken: requests
      .filter((r) => r.field === "refreshAuthToken")
      .map((r) => r.variables.token === before),
    loggedIn: client.hasAccessToken() && client.hasRefreshToken(),
    requests,
  });
  out("query-after-refresh", { result: await client.fetch(ME), requests: wire.take() });

  // Logout forgets the tokens, then sends logoutUser with the refresh token (and no access
  // token: the client has just dropped it).
  const last = client.getRefreshToken();
  await client.logout();
  const sent = wire.take();
  out("logout", {
    hasAccessToken: client.hasAccessToken(),
    hasRefreshToken: client.hasRefreshToken(),
    sentTheRefreshToken: sent.map((r) => r.variables.refreshToken === last),
    requests: sent,
    refused: await post(endpoint, REFRESH, { token: last }),
  });
  out("after-logout", { result: await client.fetch(ME), requests: wire.take() });

  // Logged in again, the session is ended from elsewhere. By its own clock the access token
  // is still good: the client sends it and hands the app the refusal. Once that token has
  // expired it refreshes, is refused, and logs itself out.
  await client.authenticate(loginEmailPassword(config.email, config.password));
  wire.take();
  await revoke();
  out("revoked", {
    result: await client.fetch(ME),
    loggedIn: client.hasAccessToken(),
    requests: wire.take(),
  });
  await expire();
  out("revoked-after-expiry", {
    result: await client.fetch(ME),
    hasAccessToken: client.hasAccessToken(),
    hasRefreshToken: client.hasRefreshToken(),
    requests: wire.take(),
  });
});
