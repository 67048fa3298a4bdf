// Drives slicknode-client 0.4.1 with slicknode-auth-email-password 0.1.2 against a running
// `bastion serve`, the way a Slicknode app uses them:
//
//   node slicknode_client.js '{"base": "http://127.0.0.1:PORT", "email": "...", "password": "..."}'
//
// The client keeps its tokens in memory and refreshes before a request once its own clock says
// the access token has expired; it does not single-flight that refresh, so two requests at
// expiry both refresh with the same refresh token.
"use strict";

const { config, expire, out, post, run } = require("./steps");
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
  });
  out("query", { result: await client.fetch(ME) });

  // The access token expires; two requests at once both refresh with the one refresh token.
  const before = client.getRefreshToken();
  await expire();
  const both = await Promise.all([client.fetch(ME), client.fetch(ME)]);
  const after = client.getRefreshToken();
  out("concurrent-refresh", {
    results: both,
    rotated: after !== before,
    loggedIn: client.hasAccessToken() && client.hasRefreshToken(),
  });
  out("query-after-refresh", { result: await client.fetch(ME) });

  // Logout sends the refresh token (the variable is optional in Slicknode's schema).
  const last = client.getRefreshToken();
  await client.logout();
  out("logout", {
    hasAccessToken: client.hasAccessToken(),
    hasRefreshToken: client.hasRefreshToken(),
    refused: await post(endpoint, REFRESH, { token: last }),
    anonymous: await client.fetch(ME),
  });
});
