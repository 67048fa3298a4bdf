// Drives @urql/core 6 with @urql/exchange-auth 3 against a running `bastion serve`, set up as
// urql's authentication docs show: didAuthError looks for extensions.code UNAUTHENTICATED,
// refreshAuth trades the refresh token through utils.mutate (which sends the expired access
// token along) and forgets the tokens when that is refused, addAuthToOperation adds the bearer
// token. authExchange queues the operations while it refreshes and retries each once.
//
//   node urql.mjs '{"base": "http://127.0.0.1:PORT", "email": "...", "password": "..."}'
import steps from "./steps.js";
import { Client, fetchExchange, gql } from "@urql/core";
import { authExchange } from "@urql/exchange-auth";

const { config, describe, expire, out, recorder, revoke, run } = steps;

const ME = gql`query Me { viewer { user { id email } } }`;
const LOGIN = gql`mutation Login($email: String!, $password: String!) {
  loginEmailPassword(input: {email: $email, password: $password}) { accessToken refreshToken }
}`;
const REFRESH = gql`mutation Refresh($token: String!) {
  refreshToken(input: {refreshToken: $token}) { accessToken refreshToken }
}`;
const CREATE_NOTE = gql`mutation Note($text: String!) { createNote(data: {text: $text}) { text } }`;

const wire = recorder();
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
    if (!tokens.refresh) return; // logged out: nothing to refresh with
    refreshes += 1;
    const result = await utils.mutate(REFRESH, { token: tokens.refresh });
    if (result.data?.refreshToken) {
      tokens.access = result.data.refreshToken.accessToken;
      tokens.refresh = result.data.refreshToken.refreshToken;
    } else {
      tokens.access = tokens.refresh = null; // the session is over: log in again
    }
  },
}));

/** What the app sees of a call: its data, or the error it failed with. */
async function attempt(call) {
  try {
    return { data: await call() };
  } catch (error) {
    return { error: describe(error) };
  }
}

run(async () => {
  const client = new Client({
    url: `${config.base}/graphql`,
    exchanges: [auth, fetchExchange],
    fetch: wire.fetch,
    requestPolicy: "network-only",
  });
  const me = async () => {
    const result = await client.query(ME, {}).toPromise();
    if (result.error) throw result.error;
    return result.data.viewer.user;
  };
  const note = async (text) => {
    const result = await client.mutation(CREATE_NOTE, { text }).toPromise();
    return result.error ? { error: describe(result.error) } : { data: result.data.createNote };
  };

  const login = await client
    .mutation(LOGIN, { email: config.email, password: config.password })
    .toPromise();
  if (login.error) throw login.error;
  tokens.access = login.data.loginEmailPassword.accessToken;
  tokens.refresh = login.data.loginEmailPassword.refreshToken;
  out("login", { requests: wire.take() });
  out("query", { user: await me(), requests: wire.take() });

  // Expired: refused, refreshed once, retried.
  await expire();
  let stale = tokens.access;
  out("query-after-expiry", {
    user: await me(),
    refreshes,
    changed: tokens.access !== stale,
    requests: wire.take(),
  });
  await expire();
  stale = tokens.access;
  out("mutation-after-expiry", {
    note: await note("from urql"),
    refreshes,
    changed: tokens.access !== stale,
    requests: wire.take(),
  });

  // The session is ended elsewhere: the refresh is refused and the app forgets its tokens.
  // authExchange retries the query once, with the header it already carried.
  await revoke();
  out("revoked", {
    seen: await attempt(me),
    refreshes,
    loggedOut: tokens.access === null && tokens.refresh === null,
    requests: wire.take(),
  });
  out("after-logout", {
    user: await me(),
    note: await note("anonymous urql"),
    refreshes,
    requests: wire.take(),
  });
});
