// Drives realm-web 2.0.1's emailPasswordAuth against a running `bastion serve` that mails
// through a real SMTP server, the way an app with email confirmation and password reset does.
//
//   node realm_web_email.js '{"base": "http://127.0.0.1:PORT", "appId": "...",
//                             "email": "...", "password": "...", "newPassword": "..."}'
//
// Prints one JSON line per step. A {"step": "need", "mail": purpose} line asks the test for
// the tokens of the mails it read (the test writes one JSON line on stdin), the way a user
// opens the mail and follows its link. tests/e2e/test_email.py asserts on the steps.
"use strict";

const readline = require("node:readline");
const Realm = require("realm-web");
const { out, failure, run } = require("./steps.js");

const config = JSON.parse(process.argv[2]);

const stdin = readline.createInterface({ input: process.stdin });
const waiting = [];
stdin.on("line", (line) => waiting.shift()?.(JSON.parse(line)));

/** Ask the test for what the mails of `purpose` carry, and wait for it. */
function need(purpose) {
  return new Promise((resolve) => {
    waiting.push(resolve);
    out("need", { mail: purpose });
  });
}

async function main() {
  const app = new Realm.App({ id: config.appId, baseUrl: config.base });
  const auth = app.emailPasswordAuth;
  const { email, password, newPassword } = config;

  await auth.registerUser({ email, password });
  out("registered");
  out("loginBeforeConfirm", await failure(app.logIn(Realm.Credentials.emailPassword(email, password))));
  await auth.resendConfirmationEmail({ email });
  out("resent");
  const confirm = await need("confirm");
  out("confirm", { old: await failure(auth.confirmUser(confirm.old)) });
  await auth.confirmUser(confirm.latest);
  out("confirmed", { again: await failure(auth.confirmUser(confirm.latest)) });

  const user = await app.logIn(Realm.Credentials.emailPassword(email, password));
  out("loggedIn", { id: user.id, email: user.profile.email });

  await auth.sendResetPasswordEmail({ email });
  await auth.sendResetPasswordEmail({ email: "nobody-" + email });  // the same answer
  const reset = await need("reset");
  out("wrongPurpose", { error: await failure(auth.confirmUser(reset.latest)) });
  out("weak", {
    error: await failure(auth.resetPassword({ ...reset.latest, password: "short" })),
  });
  await auth.resetPassword({ ...reset.latest, password: newPassword });
  out("reset", {
    again: await failure(auth.resetPassword({ ...reset.latest, password: newPassword + "!" })),
    refresh: await failure(user.refreshAccessToken()),
    oldPassword: await failure(app.logIn(Realm.Credentials.emailPassword(email, password))),
  });
  const again = await app.logIn(Realm.Credentials.emailPassword(email, newPassword));
  out("loggedInAgain", { id: again.id });

  // The project's reset function decides: "approve" resets at once, "later" leaves the
  // token to the function, anything else fails.
  const third = newPassword + " three";
  await auth.callResetPasswordFunction({ email, password: third }, "approve");
  const afterApproval = await app.logIn(Realm.Credentials.emailPassword(email, third));
  await auth.callResetPasswordFunction({ email, password: third + "!" }, "later");
  await auth.callResetPasswordFunction({ email: "nobody-" + email, password: third }, "approve");
  out("functions", {
    approvedId: afterApproval.id,
    refused: await failure(auth.callResetPasswordFunction({ email, password: third + "?" }, "no")),
    pendingLeftPassword: (await app.logIn(Realm.Credentials.emailPassword(email, third))).id,
    confirm: await failure(auth.retryCustomConfirmation({ email })),
  });
  out("badInput", {
    hugeEmail: await failure(auth.sendResetPasswordEmail({ email: "a".repeat(5000) + "@x.io" })),
    injected: await failure(
      auth.registerUser({ email: "eve@example.com\r\nBcc: all@example.com", password }),
    ),
  });
}

run(main);
