// The explorer's and the console's login: tokens kept in this module's memory only (never in
// localStorage, sessionStorage, cookies or URLs), refreshed before the access token expires,
// and again on an UNAUTHENTICATED answer. A page reload logs out: that is the price of
// keeping tokens out of storage.

const ENDPOINT = "/graphql";
const PAYLOAD = "accessToken accessTokenLifetime refreshToken refreshTokenLifetime";

export async function post(query, variables, token, extraHeaders) {
  const headers = { "Content-Type": "application/json", Accept: "application/json" };
  const extra = extraHeaders || {};
  // An Authorization header typed into GraphiQL's headers editor wins over the login's.
  const own = Object.keys(extra).some((name) => name.toLowerCase() === "authorization");
  if (token && !own) headers.Authorization = `Bearer ${token}`;
  Object.assign(headers, extra);
  const response = await fetch(ENDPOINT, {
    method: "POST",
    headers,
    body: JSON.stringify({ query, variables }),
    credentials: "omit",
    cache: "no-store",
  });
  return response.json();
}

function firstError(body) {
  return body && body.errors && body.errors.length ? body.errors[0] : null;
}

// A login that answered MFA_REQUIRED: the challenge that completes it (held in memory only,
// like the tokens) and the factors the user can answer it with ("totp", "webauthn").
export class MfaRequired extends Error {
  constructor(error) {
    super(error.message);
    this.challenge = error.extensions.challenge;
    this.factors = error.extensions.factors || [];
  }
}

export class Session {
  constructor(onChange) {
    this.onChange = onChange;
    this.access = null;
    this.refresh = null;
    this.kind = null; // "user", "root"
    this.timer = null;
    this.refreshedAt = null;
    this.refreshing = null;
  }

  get token() {
    return this.access;
  }

  async login(field, input) {
    const args = input ? "(input: $input)" : "";
    const vars = input ? `($input: ${field}Input!)` : "";
    const body = await post(`mutation Login${vars} { login: ${field}${args} { ${PAYLOAD} } }`, { input });
    const error = firstError(body);
    if (error) {
      const extensions = error.extensions || {};
      if (extensions.code === "MFA_REQUIRED" && extensions.challenge) throw new MfaRequired(error);
      throw new Error(error.message);
    }
    this._take(body.data.login, "user");
  }

  // The second step of a login that answered MFA_REQUIRED: a code from the user's
  // authenticator app, or one of their recovery codes.
  completeMfa(challenge, code) {
    return this.login("completeMfaLogin", { challenge, code });
  }

  async useRootToken(token) {
    const body = await post("{ viewer { isRoot } }", null, token);
    const error = firstError(body);
    if (error) throw new Error(error.message);
    if (!body.data.viewer.isRoot) throw new Error("This is not a root token");
    this._clear();
    this.access = token;
    this.kind = "root";
    this.onChange();
  }

  _take(payload, kind) {
    this._clear();
    this.access = payload.accessToken;
    this.refresh = payload.refreshToken;
    this.kind = kind;
    // Refresh a little before the access token expires (at least a second ahead).
    const lifetime = payload.accessTokenLifetime;
    const ahead = Math.min(30, Math.max(1, lifetime / 4));
    this.timer = setTimeout(() => this.renew().catch(() => {}), (lifetime - ahead) * 1000);
    this.onChange();
  }

  // Single flight: two requests that find the token expired share one refresh, as a second
  // use of a rotating refresh token would end the session.
  renew() {
    if (!this.refresh) return Promise.reject(new Error("Nothing to refresh"));
    if (!this.refreshing) {
      const token = this.refresh;
      this.refreshing = post(
        `mutation Refresh($input: refreshTokenInput!) { refreshToken(input: $input) { ${PAYLOAD} } }`,
        { input: { refreshToken: token } },
      )
        .then((body) => {
          const error = firstError(body);
          if (error) {
            this.logoutLocally();
            throw new Error(error.message);
          }
          this.refreshedAt = new Date();
          this._take(body.data.refreshToken, this.kind);
        })
        .finally(() => {
          this.refreshing = null;
        });
    }
    return this.refreshing;
  }

  // A request with the current token; one refresh and retry when the token has expired.
  async request(query, variables, extraHeaders) {
    const body = await post(query, variables, this.access, extraHeaders);
    const error = firstError(body);
    const code = error && error.extensions && error.extensions.code;
    if (code === "UNAUTHENTICATED" && this.refresh) {
      await this.renew();
      return post(query, variables, this.access, extraHeaders);
    }
    return body;
  }

  async logout() {
    if (this.kind === "user" && this.access) {
      await post(
        "mutation Logout($input: logoutUserInput!) { logoutUser(input: $input) { success } }",
        { input: { refreshToken: this.refresh } },
        this.access,
      ).catch(() => {});
    }
    this.logoutLocally();
  }

  logoutLocally() {
    this._clear();
    this.onChange();
  }

  _clear() {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.access = null;
    this.refresh = null;
    this.kind = null;
  }
}
