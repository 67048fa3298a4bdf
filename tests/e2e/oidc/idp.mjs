// A local OpenID provider for Bastion's sign-in tests: panva's oidc-provider with its
// development login and consent pages (any password logs the typed login name in).
//
// node idp.mjs '{"port": 4000, "clients": [...], "accounts": {"alice": {...claims}}}'
// prints {"step": "ready", "issuer": "..."} once it listens, and runs until killed.
import Provider from "oidc-provider";

const config = JSON.parse(process.argv[2]);
const issuer = `http://127.0.0.1:${config.port}`;

const provider = new Provider(issuer, {
  clients: config.clients,
  // Keys for signing ID tokens: made at start, published at /jwks.
  claims: {
    openid: ["sub"],
    email: ["email", "email_verified"],
    // `uid`: a numeric account id, as GitHub's API names people (the OAuth 2 tests map it).
    profile: ["given_name", "family_name", "name", "uid"],
  },
  scopes: ["openid", "email", "profile", "offline_access"],
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true } },
  async findAccount(_ctx, id) {
    const claims = config.accounts[id] ?? {};
    return {
      accountId: id,
      async claims() {
        return { sub: id, ...claims };
      },
    };
  },
  // The ID token carries the claims asked for, as most providers do (no userinfo call).
  conformIdTokenClaims: false,
  ttl: { Session: 600, Grant: 600, Interaction: 600, AuthorizationCode: 60, IdToken: 600, AccessToken: 600 },
});
provider.proxy = false;

const server = provider.listen(config.port, "127.0.0.1", () => {
  process.stdout.write(JSON.stringify({ step: "ready", issuer }) + "\n");
});
const stop = () => server.close(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
