// Drives realm-web 2.0.1 against a Bastion server: node realm_web.js BASE APP_ID EMAIL PASSWORD JWT
"use strict";
const Realm = require("realm-web");
const { out, expire, graphql, refreshWith, run } = require("./steps");

const [base, appId, email, password, jwt] = process.argv.slice(2);
const ME = "{ viewer { user { id email } } }";

run(async () => {
  // No skipLocationRequest: the SDK asks the location route for the hostname first.
  const app = new Realm.App({ id: appId, baseUrl: base });

  const anon = await app.logIn(Realm.Credentials.anonymous());
  out("anon", { id: anon.id, provider: anon.providerType, deviceId: anon.deviceId });

  await app.emailPasswordAuth.registerUser({ email, password });
  const user = await app.logIn(Realm.Credentials.emailPassword(email, password));
  out("userpass", {
    id: user.id, email: user.profile.email, identities: user.identities.map((i) => i.providerType),
  });
  out("graphql", { result: await graphql(base, appId, user.accessToken, ME) });

  const custom = await app.logIn(Realm.Credentials.jwt(jwt));
  out("custom", { id: custom.id, customData: custom.customData, firstName: custom.profile.firstName });

  const key = await user.apiKeys.create("sdk-key");
  out("apikey-created", { id: key._id, name: key.name, disabled: key.disabled, secret: typeof key.key });
  const keyUser = await app.logIn(Realm.Credentials.apiKey(key.key));
  out("apikey-login", { id: keyUser.id, keys: (await user.apiKeys.fetchAll()).map((k) => k.name) });

  const login = { access: user.accessToken, refresh: user.refreshToken };
  await expire();
  out("stale", { result: await graphql(base, appId, user.accessToken, ME) });
  await user.refreshAccessToken();
  const first = user.accessToken;
  out("refreshed", { changed: first !== login.access, result: await graphql(base, appId, first, ME) });
  await user.refreshAccessToken(); // the same refresh token again, as realm-web always does
  out("refreshed-again", {
    sameRefreshToken: user.refreshToken === login.refresh,
    changed: user.accessToken !== first,
    result: await graphql(base, appId, user.accessToken, ME),
  });

  await expire();
  // The SDK's own request with an expired token: 401 InvalidSession, refresh, retry.
  await user.refreshProfile();
  out("auto-refresh", { email: user.profile.email });

  await user.logOut();
  out("logout", { state: user.state, after: await refreshWith(base, login.refresh) });
});
