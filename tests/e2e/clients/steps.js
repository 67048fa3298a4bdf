// The plumbing every client script shares: tests/e2e/test_clients.py copies it beside them.
//
// A script prints one JSON line per step ({"step": name, ...what the app sees}); the test
// asserts on them. {"step": "expire"} asks the test to move the clock (of the server and of
// this node process: both run under the same libfaketime file) past the access-token
// lifetime, {"step": "revoke"} to end the user's sessions from elsewhere; the script waits
// for a line on stdin before going on. Any failure prints {"step": "error", message, stack}
// and exits 1; so does the time limit.
"use strict";

const readline = require("node:readline");

const TIMEOUT_MS = 60_000;
const realFetch = globalThis.fetch;

const stdin = readline.createInterface({ input: process.stdin });
const waiting = [];
stdin.on("line", () => waiting.shift()?.());

/** Print one step. */
function out(step, data = {}) {
  process.stdout.write(JSON.stringify({ step, ...data }) + "\n");
}

/** Ask the test to do something outside this process, and wait until it has. */
function ask(step) {
  return new Promise((resolve) => {
    waiting.push(resolve);
    out(step);
  });
}

/** Let the test move the clock past the access token's lifetime. */
const expire = () => ask("expire");

/** Let the test end the user's sessions from another session (logoutAll). */
const revoke = () => ask("revoke");

/** The first root field a document asks for (aliases skipped): names a request in a log. */
function firstField(query) {
  const selection = query.slice(query.indexOf("{") + 1);
  return selection.match(/^\s*(?:\w+\s*:\s*)?(\w+)/)?.[1] ?? null;
}

/** The GraphQL request of a GET (urql sends queries so). */
function fromUrl(url) {
  const params = new URL(url).searchParams;
  return { query: params.get("query"), variables: JSON.parse(params.get("variables") ?? "{}") };
}

/**
 * A fetch that keeps, per request, what went over the wire: the first field asked, the
 * variables, whether a bearer token went along, the status and the codes (or reasons) of the
 * errors answered. Given to a client library as its fetch; `take()` empties the list.
 */
function recorder(fetchImpl = realFetch) {
  const requests = [];
  async function fetch(url, init = {}) {
    const body = typeof init.body === "string" ? JSON.parse(init.body) : fromUrl(url);
    const headers = new Headers(init.headers);
    const response = await fetchImpl(url, init);
    const answer = await response
      .clone()
      .json()
      .catch(() => null);
    requests.push({
      method: init.method ?? "GET",
      field: firstField(body.query ?? ""),
      variables: body.variables ?? {},
      bearer: (headers.get("authorization") ?? "").startsWith("Bearer "),
      accept: headers.get("accept"),
      status: response.status,
      errors: (answer?.errors ?? []).map((e) => e.extensions?.reason ?? e.extensions?.code),
    });
    return response;
  }
  return { fetch, requests, take: () => requests.splice(0) };
}

/** What an app learns from a failed call: the message and the codes of its GraphQL errors. */
function describe(error) {
  const errors = error?.errors ?? error?.graphQLErrors ?? [];
  return {
    name: error?.name,
    message: String(error?.message ?? error),
    codes: errors.map((e) => e.extensions?.code),
  };
}

/** A plain GraphQL POST (what the client library has no method for): status and body. */
async function post(url, query, variables, token) {
  const headers = { "Content-Type": "application/json", Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await realFetch(url, {
    method: "POST",
    headers,
    body: JSON.stringify({ query, variables }),
  });
  return { status: response.status, body: await response.json() };
}

/** Run the script's main function under the time limit; exit 0 after "done". */
function run(main) {
  const timer = setTimeout(() => {
    out("error", { message: `timed out after ${TIMEOUT_MS} ms` });
    process.exit(1);
  }, TIMEOUT_MS);
  main().then(
    () => {
      clearTimeout(timer);
      out("done");
      process.exit(0);
    },
    (error) => {
      out("error", { message: String(error?.message ?? error), stack: error?.stack });
      process.exit(1);
    },
  );
}

module.exports = {
  config: JSON.parse(process.argv[2] ?? "{}"),
  describe,
  expire,
  out,
  post,
  recorder,
  revoke,
  run,
};
