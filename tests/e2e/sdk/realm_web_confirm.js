// Drives realm-web 2.0.1's custom confirmation against a running `bastion serve` whose project
// confirms new accounts with a function (auth: confirm_user) instead of a mail:
// registerUser runs it, retryCustomConfirmation runs it again.
//
//   node realm_web_confirm.js '{"base": "http://127.0.0.1:PORT", "appId": "...",
//                               "password": "...", "project": "/path/to/project"}'
//
// Prints one JSON line per step; tests/e2e/test_email.py asserts on them.
"use strict";

const fs = require("node:fs");
const path = require("node:path");
const Realm = require("realm-web");
const { out, failure, run } = require("./steps.js");

const config = JSON.parse(process.argv[2]);

async function main() {
  const app = new Realm.App({ id: config.appId, baseUrl: config.base });
  const auth = app.emailPasswordAuth;
  const { password } = config;
  const login = (email) => app.logIn(Realm.Credentials.emailPassword(email, password));

  // The function fails the first time (its gateway is down): the account waits.
  await auth.registerUser({ email: "flaky@example.com", password });
  out("flakyRegistered", { login: await failure(login("flaky@example.com")) });
  await auth.retryCustomConfirmation({ email: "flaky@example.com" });
  out("flakyRetried", { id: (await login("flaky@example.com")).id });

  // "pending": the function keeps the token (here in a file; an app would text it).
  await auth.registerUser({ email: "later@example.com", password });
  await auth.retryCustomConfirmation({ email: "later@example.com" });
  const before = await failure(login("later@example.com"));
  const kept = JSON.parse(fs.readFileSync(path.join(config.project, "later.json"), "utf8"));
  await auth.confirmUser(kept);
  out("laterConfirmed", { before, id: (await login("later@example.com")).id });

  // "fail": the account stays unconfirmed, and a retry says so.
  await auth.registerUser({ email: "no@example.com", password });
  out("refused", {
    retry: await failure(auth.retryCustomConfirmation({ email: "no@example.com" })),
    login: await failure(login("no@example.com")),
  });

  // Addresses with no account waiting get the same answer, and run nothing.
  await auth.retryCustomConfirmation({ email: "nobody@example.com" });
  await auth.retryCustomConfirmation({ email: "flaky@example.com" });
  out("sameAnswer");
  out("badInput", {
    malformed: await failure(auth.retryCustomConfirmation({ email: "not an address" })),
    missing: await failure(auth.retryCustomConfirmation({})),
  });
}

run(main);
