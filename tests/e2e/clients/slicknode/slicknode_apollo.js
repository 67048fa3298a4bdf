// Drives slicknode-apollo-link 2.0.1 on @apollo/client 3 against a running `bastion serve`,
// the way its README sets it up: SlicknodeLink before an HttpLink, a login mutation marked
// @authenticate, logoutUser with the link's refresh token.
//
//   node slicknode_apollo.js '{"base": "http://127.0.0.1:PORT", "email": "...", "password": "..."}'
//
// The link refreshes before a request once its own clock says the access token has expired,
// and makes concurrent requests wait for that one refresh.
"use strict";

const { config, expire, out, post, run } = require("./steps");
const { ApolloClient, ApolloLink, HttpLink, InMemoryCache, gql } = require("@apollo/client/core");
const SlicknodeLink = require("slicknode-apollo-link").default;

const ME = gql`query Me { viewer { user { id email } } }`;
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
  const slicknodeLink = new SlicknodeLink();
  const client = new ApolloClient({
    cache: new InMemoryCache(),
    link: ApolloLink.from([slicknodeLink, new HttpLink({ uri: endpoint, fetch })]),
    defaultOptions: { query: { fetchPolicy: "network-only" } },
  });
  const me = async () => (await client.query({ query: ME })).data.viewer.user;

  await client.mutate({
    mutation: LOGIN,
    variables: { email: config.email, password: config.password },
  });
  out("login", { hasAccessToken: slicknodeLink.hasAccessToken() });
  out("query", { user: await me() });

  const before = slicknodeLink.getRefreshToken();
  await expire();
  const both = await Promise.all([me(), me()]);
  out("concurrent-refresh", {
    users: both,
    rotated: slicknodeLink.getRefreshToken() !== before,
    loggedIn: slicknodeLink.hasAccessToken() && slicknodeLink.hasRefreshToken(),
  });
  out("query-after-refresh", { user: await me() });

  const last = slicknodeLink.getRefreshToken();
  const logout = await client.mutate({ mutation: LOGOUT, variables: { token: last } });
  await client.clearStore();
  out("logout", {
    success: logout.data.logoutUser.success,
    hasAccessToken: slicknodeLink.hasAccessToken(),
    hasRefreshToken: slicknodeLink.hasRefreshToken(),
    refused: await post(endpoint, REFRESH, { token: last }),
    user: await me(),
  });
});
