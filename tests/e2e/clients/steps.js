// The plumbing every client script shares: tests/e2e/test_clients.py copies it beside them.
//
// A script prints one JSON line per step ({"step": name, ...what the app sees}); the test
// asserts on them. {"step": "expire"} asks the test to move the clock (of the server and of
// this node process: both run under the same libfaketime offset file) past the access-token
// lifetime; the script waits for a line on stdin before going on. Any failure prints
// {"step": "error", message, stack} and exits 1; so does the time limit.
"use strict";

const readline = require("node:readline");

const TIMEOUT_MS = 60_000;

const stdin = readline.createInterface({ input: process.stdin });
const waiting = [];
stdin.on("line", () => waiting.shift()?.());

/** Print one step. */
function out(step, data = {}) {
  process.stdout.write(JSON.stringify({ step, ...data }) + "\n");
}

/** Let the test move the clock, and wait until it has. */
function expire() {
  return new Promise((resolve) => {
    waiting.push(resolve);
    out("expire");
  });
}

/** A plain GraphQL POST (what the client library has no method for): status and body. */
async function post(url, query, variables, token) {
  const headers = { "Content-Type": "application/json", Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(url, {
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

module.exports = { expire, out, post, run, config: JSON.parse(process.argv[2] ?? "{}") };
