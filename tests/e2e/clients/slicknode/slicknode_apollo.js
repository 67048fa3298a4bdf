// Drives slicknode-apollo-link 2.0.1 on @apollo/client 3 against a running `bastion serve`,
// the way its README sets it up: SlicknodeLink before an HttpLink, a login mutation marked
// @authenticate, logoutUser with the link's refresh token, then clearing Apollo's store.
//
//   node slicknode_apollo.js '{"base": "http://127.0.0.1:PORT", "email": "...", "password": "..."}'
//
// The link refreshes before a request once its own clock says the access token has expired
// (this process runs on the server's fake clock), and makes concurrent requests wait for that
// one refresh.
"use strict";

const { config, describe, expire, out, post, recorder, revoke, run } = require("./steps");
const { ApolloClient, ApolloLink, HttpLink, InMemoryCache, gql } = require("@apollo/client/core");
const SlicknodeLink = require("slicknode-apollo-link").default;

// Two screens of an app asking at once (two different queries: Apollo would merge two
// identical ones into one request by itself).
const ME = gql`query Me { viewer { user { id email } } }`;
const MY_NOTES = gql`query MyNotes { viewer { user { id email } } notes { text } }`;
const LOGIN = gql`mutation Login($email: String!, $password: String!) {
  loginEmailPassword(input: {email: $email, password: $password}) @authenticate {
    accessToken
    refreshToken
    accessTokenLifetime
    refreshTokenLifetime
  }
}`;
const LOGOUT = gql`mutation LogoutUser($token: String) {
  logoutUser(input: {refreshToken: $token}) { success }
}`;
const REFRESH = `mutation ($token: String!) {
  refreshAuthToken(input: {refreshToken: $token}) { accessToken refreshToken }
}`;

run(async () => {
  const endpoint = `${config.base}/graphql`;
  const wire = recorder();
  const slicknodeLink = new SlicknodeLink();
  const client = new ApolloClient({
    cache: new InMemoryCache(),
    link: ApolloLink.from([slicknodeLink, new HttpLink({ uri: endpoint, fetch: wire.fetch })]),
    defaultOptions: { query: { fetchPolicy: "network-only" } },
  });
  const ask = async (query) => (await client.query({ query })).data.viewer.user;

  const login = await client.mutate({
    mutation: LOGIN,
    variables: { email: config.email, password: config.password },
  });
  out("login", {
    hasAccessToken: slicknodeLink.hasAccessToken(),
    accessTokenLifetime: login.data.loginEmailPassword.accessTokenLifetime,
    requests: wire.take(),
  });
  out("query", { user: await ask(ME), requests: wire.take() });

  const before = slicknodeLink.getRefreshToken();
  await expire();
  const both = await Promise.all([ask(ME), ask(MY_NOTES)]);
  const requests = wire.take();
  out("concurrent-refresh", {
    users: both,
    rotated: slicknodeLink.getRefreshToken() !== before,
    sentTheLoginsToken: requests
      .filter((r) => r.field === "refreshAuthToken")
      .map((r) => r.variables.token === before),
    loggedIn: slicknodeLink.hasAccessToken() && slicknodeLink.hasRefreshToken(),
    requests,
  });
  out("query-after-refresh", { user: await ask(ME), requests: wire.take() });

  const last = slicknodeLink.getRefreshToken();
  const logout = await client.mutate({ mutation: LOGOUT, variables: { token: last } });
  await client.clearStore();
  out("logout", {
    success: logout.data.logoutUser.success,
    hasAccessToken: slicknodeLink.hasAccessToken(),
    hasRefreshToken: slicknodeLink.hasRefreshToken(),
    requests: wire.take(),
    refused: await post(endpoint, REFRESH, { token: last }),
  });
  out("after-logout", { user: await ask(ME), requests: wire.take() });

  // Logged in again, the session is ended from elsewhere. By its own clock the access token
  // is still good: the link sends it and Apollo hands the app the refusal. Once that token
  // has expired the link refreshes, is refused, and forgets its tokens.
  await client.mutate({
    mutation: LOGIN,
    variables: { email: config.email, password: config.password },
  });
  wire.take();
  await revoke();
  let seen;
  try {
    seen = { user: await ask(ME) };
  } catch (error) {
    seen = { error: describe(error) };
  }
  out("revoked", { seen, loggedIn: slicknodeLink.hasAccessToken(), requests: wire.take() });
  await expire();
  out("revoked-after-expiry", {
    user: await ask(ME),
    hasAccessToken: slicknodeLink.hasAccessToken(),
    hasRefreshToken: slicknodeLink.hasRefreshToken(),
    requests: wire.take(),
  });
});
