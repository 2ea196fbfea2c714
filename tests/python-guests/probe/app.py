"""A hostile and curious Python helper for tests/integration/python.rs, on
credbox_helper. Config `MODE` chooses what it does:

- `loop`: loops forever (fuel or the deadline must stop it);
- `leak`: fails as denied with the secret `API_TOKEN` in the message;
- `raise`: raises a ValueError with the secret in it, which credbox_helper
  reports as `other`;
- `count`: counts its runs in state (`runs`) and answers `run-<n>`;
- `get`: GETs config `URL` (within config `TIMEOUT` seconds, if set) and
  answers the body's text;
- `json`: POSTs `{"grant":"x","n":1}` to `URL` and answers the answer's
  `token`.
"""

import credbox_helper as credbox


class WitWorld(credbox.Helper):
    def credential(self, request):
        mode = credbox.config_required("MODE")
        if mode == "loop":
            n = 0
            while True:
                n += 1
        if mode == "leak":
            secret = credbox.config_required("API_TOKEN")
            raise credbox.Denied(f"the provider refused {secret}")
        if mode == "raise":
            secret = credbox.config_required("API_TOKEN")
            raise ValueError(f"cannot parse {secret}")
        if mode == "count":
            runs = int(credbox.state_get("runs") or "0") + 1
            credbox.state_set("runs", str(runs))
            return credbox.bearer(f"run-{runs}")
        if mode == "get":
            timeout = credbox.config("TIMEOUT")
            response = credbox.get(
                credbox.config_required("URL"),
                timeout=None if timeout is None else float(timeout),
            )
            return credbox.bearer(response.error_for_status().text().strip())
        if mode == "json":
            response = credbox.post(credbox.config_required("URL"), json={"grant": "x", "n": 1})
            return credbox.bearer(response.error_for_status().json()["token"])
        raise credbox.Misconfigured(f"unknown MODE {mode}")
