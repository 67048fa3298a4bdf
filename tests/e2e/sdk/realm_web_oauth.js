// Drives realm-web 2.0.1's OAuth 2 credentials with ID tokens against a running
// `bastion serve` whose OpenID providers are named google and apple:
//
//   node realm_web_oauth.js '{"base": "http://127.0.0.1:PORT", "appId": "...",
//                             "google": "<ID token>", "apple": "<ID token>",
//                             "foreign": "<ID token for another client>"}'
//
// Prints one JSON line per step; tests/e2e/test_stitch_oauth.py asserts on them.
"use strict";

const Realm = require("realm-web");

const TIMEOUT_MS = 60_000;
const config = JSON.parse(process.argv[2]);

function out(step, data = {}) {
  process.stdout.write(JSON.stringify({ step, ...data }) + "\n");
}

function describe(error) {
  return {
    message: String(error?.message ?? error),
    statusCode: error?.statusCode,
    errorCode: error?.errorCodeName ?? error?.errorCode,
  };
}

async function failure(promise) {
  try {
    await promise;
  } catch (error) {
    return describe(error);
  }
  throw new Error("expected the call to fail, it succeeded");
}

async function main() {
  const app = new Realm.App({ id: config.appId, baseUrl: config.base });
  const google = await app.logIn(Realm.Credentials.google({ idToken: config.google }));
  out("google", {
    id: google.id,
    email: google.profile.email,
    providers: google.identities.map((i) => i.providerType),
  });
  await google.refreshAccessToken();
  const apple = await app.logIn(Realm.Credentials.apple(config.apple));
  out("apple", { id: apple.id, email: apple.profile.email });
  out("refused", {
    replayed: await failure(app.logIn(Realm.Credentials.google({ idToken: config.google }))),
    foreign: await failure(app.logIn(Realm.Credentials.google({ idToken: config.foreign }))),
    unknown: await failure(
      app.logIn(new Realm.Credentials("oauth2-nosuch", "oauth2-nosuch", false, { id_token: config.apple })),
    ),
  });
}

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
    out("error", { ...describe(error), stack: error?.stack });
    process.exit(1);
  },
);
