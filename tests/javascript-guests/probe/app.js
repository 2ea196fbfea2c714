// A hostile and curious JavaScript helper for tests/integration/javascript.rs,
// on credbox_helper.js. Config `MODE` chooses what it does:
//
// - `loop`: loops forever (fuel or the deadline must stop it);
// - `leak`: fails as denied with the secret `API_TOKEN` in the message;
// - `raise`: throws a TypeError with the secret in it, which
//   credbox_helper reports as `other`;
// - `count`: counts its runs in state (`runs`) and answers `run-<n>`;
// - `get`: GETs config `URL` (within config `TIMEOUT` seconds, if set) and
//   answers the body's text;
// - `json`: POSTs `{"grant":"x","n":1}` to `URL` and answers the answer's
//   `token`.

import * as credbox from './credbox_helper.js';

export const { fetch, login } = credbox.exports({
  async credential(request) {
    const mode = credbox.configRequired('MODE');
    if (mode === 'loop') {
      let n = 0;
      for (;;) {
        n += 1;
      }
    }
    if (mode === 'leak') {
      const secret = credbox.configRequired('API_TOKEN');
      throw credbox.denied(`the provider refused ${secret}`);
    }
    if (mode === 'raise') {
      const secret = credbox.configRequired('API_TOKEN');
      throw new TypeError(`cannot parse ${secret}`);
    }
    if (mode === 'count') {
      const runs = Number(credbox.stateGet('runs') || '0') + 1;
      credbox.stateSet('runs', String(runs));
      return credbox.bearer(`run-${runs}`);
    }
    if (mode === 'get') {
      const timeout = credbox.config('TIMEOUT');
      const response = await credbox.get(credbox.configRequired('URL'), {
        timeout: timeout === undefined ? undefined : Number(timeout),
      });
      return credbox.bearer(response.errorForStatus().text().trim());
    }
    if (mode === 'json') {
      const response = await credbox.post(credbox.configRequired('URL'), {
        json: { grant: 'x', n: 1 },
      });
      return credbox.bearer(response.errorForStatus().json().token);
    }
    throw credbox.misconfigured(`unknown MODE ${mode}`);
  },
});
