// What both SDK scripts share: one JSON line per step, a pause while the server's clock jumps,
// and a plain-HTTP GraphQL call with the SDK's access token (neither SDK has a GraphQL client).
"use strict";
const readline = require("readline");

const lines = readline.createInterface({ input: process.stdin });
const waiting = [];
lines.on("line", () => { const next = waiting.shift(); if (next) next(); });

function out(step, data = {}) {
  process.stdout.write(JSON.stringify({ step, ...data }) + "\n");
}

// Tell the test to move the server's clock past the access-token lifetime, then wait for it.
function expire() {
  return new Promise((resolve) => { waiting.push(resolve); out("expire"); });
}

async function graphql(base, appId, accessToken, query, variables) {
  const response = await fetch(`${base}/api/client/v2.0/app/${appId}/graphql`, {
    method: "POST",
    headers: { Authorization: `Bearer ${accessToken}`, "Content-Type": "application/json" },
    body: JSON.stringify({ query, variables }),
  });
  return { status: response.status, body: await response.json() };
}

async function refreshWith(base, refreshToken) {
  const response = await fetch(`${base}/api/client/v2.0/auth/session`, {
    method: "POST",
    headers: { Authorization: `Bearer ${refreshToken}` },
  });
  return {
    status: response.status,
    contentType: response.headers.get("content-type"),
    body: await response.json(),
  };
}

function run(main) {
  const timer = setTimeout(() => { out("error", { message: "timed out" }); process.exit(1); }, 60000);
  main().then(
    () => { clearTimeout(timer); out("done"); process.exit(0); },
    (error) => {
      out("error", { message: String(error && error.message), statusCode: error.statusCode,
                     errorCode: error.errorCode || error.errorCodeName });
      process.exit(1);
    },
  );
}

module.exports = { out, expire, graphql, refreshWith, run };
