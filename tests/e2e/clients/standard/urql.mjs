// Drives @urql/core 6 with @urql/exchange-auth 3 against a running `bastion serve`, set up as
// urql's docs show: didAuthError looks for extensions.code UNAUTHENTICATED, refreshAuth trades
// the refresh token through utils.mutate (which sends the expired access token along), and
// addAuthToOperation adds the bearer token.
//
//   node urql.mjs '{"base": "http://127.0.0.1:PORT", "email": "...", "password": "..."}'
import steps from "./steps.js";
import { Client, fetchExchange, gql } from "@urql/core";
import { authExchange } from "@urql/exchange-auth";

const { config, expire, out, run } = steps;

const ME = gql`query Me { viewer { user { id email } } }`;
const LOGIN = gql`mutation Login($email: String!, $password: String!) {
  loginEmailPassword(input: {email: $email, password: $password}) { accessToken refreshToken }
}`;
const REFRESH = gql`mutation Refresh($token: String!) {
  refreshToken(input: {refreshToken: $token}) { accessToken refreshToken }
}`;
const CREATE_NOTE = gql`mutation Note($text: String!) { createNote(data: {text: $text}) { text } }`;

const tokens = { access: null, refresh: null };
let refreshes = 0;

const auth = authExchange(async (utils) => ({
  addAuthToOperation(operation) {
    if (!tokens.access) return operation;
    return utils.appendHeaders(operation, { Authorization: `Bearer ${tokens.access}` });
  },
  didAuthError(error) {
    return error.graphQLErrors.some((e) => e.extensions?.code === "UNAUTHENTICATED");
  },
  async refreshAuth() {
    refreshes += 1;
    const result = await utils.mutate(REFRESH, { token: tokens.refresh });
    if (result.data?.refreshToken) {
      tokens.access = result.data.refreshToken.accessToken;
      tokens.refresh = result.data.refreshToken.refreshToken;
    } else {
      tokens.access = tokens.refresh = null; // logged out
    }
  },
}));

run(async () => {
  const client = new Client({
    url: `${config.base}/graphql`,
    exchanges: [auth, fetchExchange],
    requestPolicy: "network-only",
  });
  const me = async () => {
    const result = await client.query(ME, {}).toPromise();
    if (result.error) throw result.error;
    return result.data.viewer.user;
  };

  const login = await client
    .mutation(LOGIN, { email: config.email, password: config.password })
    .toPromise();
  tokens.access = login.data.loginEmailPassword.accessToken;
  tokens.refresh = login.data.loginEmailPassword.refreshToken;
  out("query", { user: await me() });

  await expire();
  const stale = tokens.access;
  out("query-after-expiry", { user: await me(), refreshes, changed: tokens.access !== stale });

  await expire();
  const note = await client.mutation(CREATE_NOTE, { text: "from urql" }).toPromise();
  if (note.error) throw note.error;
  out("mutation-after-expiry", { note: note.data.createNote, refreshes });
});
