// Drives mongodb-stitch-server-sdk 4.9.0 against a Bastion server:
// node stitch_server.js BASE APP_ID EMAIL PASSWORD JWT DATA_DIR
"use strict";
const {
  Stitch, StitchAppClientConfiguration, AnonymousCredential, UserPasswordCredential,
  UserApiKeyCredential, CustomCredential, UserApiKeyAuthProviderClient,
  UserPasswordAuthProviderClient,
} = require("mongodb-stitch-server-sdk");
const { out, expire, graphql, refreshWith, run } = require("./steps");

const [base, appId, email, password, jwt, dataDir] = process.argv.slice(2);
const ME = "{ viewer { user { id email } } }";

run(async () => {
  const client = Stitch.initializeAppClient(
    appId,
    new StitchAppClientConfiguration.Builder().withBaseUrl(base).withDataDirectory(dataDir).build(),
  );
  const auth = client.auth;

  const anon = await auth.loginWithCredential(new AnonymousCredential());
  out("anon", { id: anon.id, provider: anon.loggedInProviderType });

  const userpass = auth.getProviderClient(UserPasswordAuthProviderClient.factory);
  await userpass.registerWithEmail(email, password);
  const user = await auth.loginWithCredential(new UserPasswordCredential(email, password));
  out("userpass", {
    id: user.id, email: user.profile.email, identities: user.identities.map((i) => i.providerType),
  });
  out("graphql", { result: await graphql(base, appId, auth.authInfo.accessToken, ME) });

  const keys = auth.getProviderClient(UserApiKeyAuthProviderClient.factory);
  const key = await keys.createApiKey("sdk-key");
  out("apikey-created", {
    id: key.id.toHexString(), name: key.name, disabled: key.disabled, secret: typeof key.key,
  });
  const login = { access: auth.authInfo.accessToken, refresh: auth.authInfo.refreshToken };

  await expire();
  out("stale", { result: await graphql(base, appId, auth.authInfo.accessToken, ME) });
  await auth.refreshCustomData();
  const first = auth.authInfo.accessToken;
  out("refreshed", { changed: first !== login.access, result: await graphql(base, appId, first, ME) });
  await auth.refreshCustomData();
  out("refreshed-again", {
    sameRefreshToken: auth.authInfo.refreshToken === login.refresh,
    changed: auth.authInfo.accessToken !== first,
    result: await graphql(base, appId, auth.authInfo.accessToken, ME),
  });

  await auth.logout();
  out("logout", { loggedIn: auth.isLoggedIn, after: await refreshWith(base, login.refresh) });

  const keyUser = await auth.loginWithCredential(new UserApiKeyCredential(key.key));
  out("apikey-login", { id: keyUser.id });
  const custom = await auth.loginWithCredential(new CustomCredential(jwt));
  // Stitch fills customData from the access token it gets on refresh (its documented way).
  await auth.refreshCustomData();
  out("custom", {
    id: custom.id, customData: auth.user.customData, firstName: custom.profile.firstName,
  });
});
