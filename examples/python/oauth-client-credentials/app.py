"""OAuth 2.0 client credentials (RFC 6749 section 4.4), in Python: trades a
client id and secret for an access token at the provider's token endpoint,
and hands it to Claude Code as `Authorization: Bearer <access_token>`.

Configuration (see `credbox.toml`):
- `TOKEN_URL`: the token endpoint; its origin must be in `[network] allow`.
- `CLIENT_ID`, `CLIENT_SECRET`: from the environment, allowlisted in
  `[env] allow` (or `--config`, for a test).
- `SCOPE`: optional, space-separated scopes.

credbox caches the token for its `expires_in`, less a safety margin, so
the endpoint is called once per token lifetime, not once per request.
"""

import credbox_helper as credbox


class WitWorld(credbox.Helper):
    """The component's exports (componentize-py looks for this name)."""

    def credential(self, request):
        # A missing value is reported as "misconfigured: missing config
        # CLIENT_SECRET", with a hint on how to provide it.
        token_url = credbox.config_required("TOKEN_URL")
        client_id = credbox.config_required("CLIENT_ID")
        client_secret = credbox.config_required("CLIENT_SECRET")
        scope = credbox.config("SCOPE")

        # The credentials go in the form body ("client_secret_post").
        form = [
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_secret", client_secret),
        ]
        if scope is not None:
            form.append(("scope", scope))

        # No timeout of our own: credbox's deadline bounds the request, and
        # a refused connection, a DNS failure or a timeout is raised as
        # `Unavailable` (exit code 5: try again later). A request to an
        # origin outside `[network] allow` is refused by credbox (exit
        # code 9) before anything is sent.
        response = credbox.post(token_url, form=form)

        # A wrong or revoked secret is `invalid_client` (status 400 or 401):
        # report it as denied (exit code 4), not as a configuration typo.
        if response.status == 400:
            error = _oauth_error(response)
            if error in ("invalid_client", "invalid_grant", "unauthorized_client"):
                raise credbox.Denied(f"token endpoint refused the client: {error}")
            if error is not None:
                raise credbox.Misconfigured(f"token endpoint answered {error}")
        # 401/403 -> denied, 5xx -> unavailable, other 4xx -> misconfigured;
        # then the JSON body (an error never quotes it: it holds the token).
        token = response.error_for_status().json()
        access_token = token.get("access_token") if isinstance(token, dict) else None
        if not isinstance(access_token, str):
            raise credbox.Other(f"{response.origin}: the token response has no access_token")

        # `Authorization: Bearer <access_token>`, for its `expires_in`.
        expires_in = token.get("expires_in")
        return credbox.bearer(access_token, expires_in=expires_in if isinstance(expires_in, int) else None)


def _oauth_error(response):
    """The `error` of an OAuth error response (RFC 6749 section 5.2), or None."""
    try:
        body = response.json()
    except credbox.HelperError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, str) else None
