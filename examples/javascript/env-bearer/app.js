// The smallest useful credbox helper, in JavaScript: hands a token from the
// configuration to Claude Code as a bearer credential.
//
// `API_TOKEN` comes from the manifest's `[config]` table, a
// `--config API_TOKEN=...` flag, or the environment when the manifest
// allowlists it (`[env] allow = ["API_TOKEN"]`, as in `credbox.toml` here).

import * as credbox from './credbox_helper.js';

// The component's exports, `fetch` and `login`.
export const { fetch, login } = credbox.exports({
  credential(request) {
    // A missing token is a configuration error, reported by credbox as
    // "misconfigured: missing config API_TOKEN" with a hint on how to set it.
    const token = credbox.configRequired('API_TOKEN');
    // Serves both uses: the API key for `apiKeyHelper`, and
    // `Authorization: Bearer <token>` for an MCP server's `headersHelper`.
    return credbox.bearer(token);
  },
});
