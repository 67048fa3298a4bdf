// Drives Apollo Client 4 against a running `bastion serve` with the refresh pattern of Apollo's
// error-handling docs: an ErrorLink that, on a GraphQL error whose extensions.code is
// UNAUTHENTICATED, refreshes the tokens (one refresh at a time) and retries the operation with
// forward(operation); a SetContextLink that adds the bearer token. The app refreshes through
// the same client (so the refresh carries the expired token along), and forgets its tokens
// when the refresh is refused: the user is logged out.
//
//   node apollo.mjs '{"base": "http://127.0.0.1:PORT", "email": "...", "password": "..."}'
import steps from "./steps.js";
import { ApolloClient, ApolloLink, CombinedGraphQLErrors, HttpLink, InMemoryCache, gql } from "@apollo/client";
import { SetContextLink } from "@apollo/client/link/context";
import { ErrorLink } from "@apollo/client/link/error";
import { from, switchMap } from "rxjs";

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
let refreshing = null;
let client;

/** One refresh at a time; every operation refused meanwhile waits for it. */
function refresh() {
  refreshing ??= (async () => {
    refreshes += 1;
    try {
      const { data } = await client.mutate({ mutation: REFRESH, variables: { token: tokens.refresh } });
      tokens.access = data.refreshToken.accessToken;
      tokens.refresh = data.refreshToken.refreshToken;
    } catch (error) {
      tokens.access = tokens.refresh = null; // the session is over: log in again
      throw error;
    }
  })().finally(() => {
    refreshing = null;
  });
  return refreshing;
}

const auth = new SetContextLink((previous) => ({
  headers: {
    ...previous.headers,
    ...(tokens.access ? { authorization: `Bearer ${tokens.access}` } : {}),
  },
}));

const retryOnUnauthenticated = new ErrorLink(({ error, operation, forward }) => {
  const unauthenticated =
    CombinedGraphQLErrors.is(error) &&
    error.errors.some((e) => e.extensions?.code === "UNAUTHENTICATED");
  // Nothing to refresh with (logged out, or the refresh itself): the error goes to the app.
  if (!unauthenticated || !tokens.refresh || operation.operationName === "Refresh") return;
  return from(refresh()).pipe(switchMap(() => forward(operation)));
});

/** What the app sees of a call: its data, or the error it failed with. */
async function attempt(call) {
  try {
    return { data: await call() };
  } catch (error) {
    return { error: describe(error) };
  }
}

run(async () => {
  client = new ApolloClient({
    cache: new InMemoryCache(),
    link: ApolloLink.from([
      retryOnUnauthenticated,
      auth,
      new HttpLink({ uri: `${config.base}/graphql`, fetch: wire.fetch }),
    ]),
    defaultOptions: { query: { fetchPolicy: "network-only" } },
  });
  const me = async () => (await client.query({ query: ME })).data.viewer.user;
  const note = async (text) =>
    (await client.mutate({ mutation: CREATE_NOTE, variables: { text } })).data.createNote;

  const { data } = await client.mutate({
    mutation: LOGIN,
    variables: { email: config.email, password: config.password },
  });
  tokens.access = data.loginEmailPassword.accessToken;
  tokens.refresh = data.loginEmailPassword.refreshToken;
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
    note: await note("from apollo"),
    refreshes,
    changed: tokens.access !== stale,
    requests: wire.take(),
  });

  // The session is ended elsewhere: the refresh is refused and the app is logged out.
  await revoke();
  out("revoked", {
    seen: await attempt(me),
    refreshes,
    loggedOut: tokens.access === null && tokens.refresh === null,
    requests: wire.take(),
  });
  out("after-logout", {
    user: await me(),
    note: await attempt(() => note("anonymous apollo")),
    refreshes,
    requests: wire.take(),
  });
});
