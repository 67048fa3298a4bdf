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
const { out, failure, run } = require("./steps.js");

const config = JSON.parse(process.argv[2]);

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

run(main);
