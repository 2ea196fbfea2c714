// A hostile and curious JavaScript helper for tests/integration/javascript.rs,
// on credbox_helper.js. Config `MODE` chooses what it does:
//
// - `loop`: loops forever (fuel or the deadline must stop it);
// - `leak`: fails as denied with the secret `API_TOKEN` in the message;
// - `raise`: throws a TypeError with the secret in it, which
//   credbox_helper reports as `other`;
// - `count`: counts its runs in state (`runs`) and answers `run-<n>`.

import * as credbox from './credbox_helper.js';

export const { fetch, login } = credbox.exports({
  credential(request) {
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
    throw credbox.misconfigured(`unknown MODE ${mode}`);
  },
});
