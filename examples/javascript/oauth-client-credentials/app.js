// OAuth 2.0 client credentials (RFC 6749 section 4.4), in JavaScript:
// trades a client id and secret for an access token at the provider's
// token endpoint, and hands it to Claude Code as
// `Authorization: Bearer <access_token>`.
//
// Configuration (see `credbox.toml`):
// - `TOKEN_URL`: the token endpoint; its origin must be in `[network] allow`.
// - `CLIENT_ID`, `CLIENT_SECRET`: from the environment, allowlisted in
//   `[env] allow` (or `--config`, for a test).
// - `SCOPE`: optional, space-separated scopes.
//
// credbox caches the token for its `expires_in`, less a safety margin, so
// the endpoint is called once per token lifetime, not once per request.

import * as credbox from './credbox_helper.js';

// The component's exports, `fetch` and `login`.
export const { fetch, login } = credbox.exports({
  async credential(request) {
    // A missing value is reported as "misconfigured: missing config
    // CLIENT_SECRET", with a hint on how to provide it.
    const tokenUrl = credbox.configRequired('TOKEN_URL');
    const clientId = credbox.configRequired('CLIENT_ID');
    const clientSecret = credbox.configRequired('CLIENT_SECRET');
    const scope = credbox.config('SCOPE');

    // The credentials go in the form body ("client_secret_post").
    const form = [
      ['grant_type', 'client_credentials'],
      ['client_id', clientId],
      ['client_secret', clientSecret],
    ];
    if (scope !== undefined) {
      form.push(['scope', scope]);
    }

    // No timeout of our own: credbox's deadline bounds the request, and a
    // refused connection, a DNS failure or a timeout is thrown as
    // `unavailable` (exit code 5: try again later). A request to an origin
    // outside `[network] allow` is refused by credbox (exit code 9) before
    // anything is sent.
    const response = await credbox.post(tokenUrl, { form });

    // A wrong or revoked secret is `invalid_client` (status 400 or 401):
    // report it as denied (exit code 4), not as a configuration typo.
    if (response.status === 400) {
      const error = oauthError(response);
      if (['invalid_client', 'invalid_grant', 'unauthorized_client'].includes(error)) {
        throw credbox.denied(`token endpoint refused the client: ${error}`);
      }
      if (error !== undefined) {
        throw credbox.misconfigured(`token endpoint answered ${error}`);
      }
    }
    // 401/403 -> denied, 5xx -> unavailable, other 4xx -> misconfigured;
    // then the JSON body (an error never quotes it: it holds the token).
    const token = response.errorForStatus().json();
    if (!token || typeof token.access_token !== 'string') {
      throw credbox.other(`${response.origin}: the token response has no access_token`);
    }

    // `Authorization: Bearer <access_token>`, for its `expires_in`.
    const expiresIn = Number.isInteger(token.expires_in) ? token.expires_in : undefined;
    return credbox.bearer(token.access_token, expiresIn);
  },
});

// The `error` of an OAuth error response (RFC 6749 section 5.2), or undefined.
function oauthError(response) {
  let body;
  try {
    body = response.json();
  } catch {
    return undefined;
  }
  return body && typeof body.error === 'string' ? body.error : undefined;
}
