// Drives Apollo Client 4 against a running `bastion serve` with the refresh pattern of Apollo's
// docs: an ErrorLink that, on a GraphQL error whose extensions.code is UNAUTHENTICATED,
// refreshes the tokens once and retries the operation; a SetContextLink that adds the bearer
// token. The app refreshes through the same client (so the refresh carries the expired token).
//
//   node apollo.mjs '{"base": "http://127.0.0.1:PORT", "email": "...", "password": "..."}'
import steps from "./steps.js";
import {
  ApolloClient,
  ApolloLink,
  CombinedGraphQLErrors,
  HttpLink,
  InMemoryCache,
  gql,
} from "@apollo/client";
import { SetContextLink } from "@apollo/client/link/context";
import { ErrorLink } from "@apollo/client/link/error";
import { Observable } from "rxjs";

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
let refreshing = null;
let client;

/** One refresh at a time; every failed operation waits for it. */
function refresh() {
  refreshing ??= (async () => {
    refreshes += 1;
    const { data } = await client.mutate({ mutation: REFRESH, variables: { token: tokens.refresh } });
    tokens.access = data.refreshToken.accessToken;
    tokens.refresh = data.refreshToken.refreshToken;
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
  if (!unauthenticated || operation.operationName === "Refresh") return;
  return new Observable((observer) => {
    refresh().then(
      () => forward(operation).subscribe(observer),
      (failure) => observer.error(failure),
    );
  });
});

run(async () => {
  client = new ApolloClient({
    cache: new InMemoryCache(),
    link: ApolloLink.from([
      retryOnUnauthenticated,
      auth,
      new HttpLink({ uri: `${config.base}/graphql`, fetch }),
    ]),
    defaultOptions: { query: { fetchPolicy: "network-only" } },
  });
  const me = async () => (await client.query({ query: ME })).data.viewer.user;

  const { data } = await client.mutate({
    mutation: LOGIN,
    variables: { email: config.email, password: config.password },
  });
  tokens.access = data.loginEmailPassword.accessToken;
  tokens.refresh = data.loginEmailPassword.refreshToken;
  out("query", { user: await me() });

  await expire();
  const stale = tokens.access;
  out("query-after-expiry", { user: await me(), refreshes, changed: tokens.access !== stale });

  await expire();
  const note = await client.mutate({ mutation: CREATE_NOTE, variables: { text: "from apollo" } });
  out("mutation-after-expiry", { note: note.data.createNote, refreshes });
});
