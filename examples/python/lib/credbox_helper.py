"""Write a credbox helper in Python (componentize-py 0.25.1).

The helper is a module that defines a class called `WitWorld` (the name
componentize-py looks for) deriving from `Helper`, and builds against the
world `helper-http` of `credbox:helper@0.3.0` (`wit/helper.wit`, with the
`wasi:*` packages it needs in `wit/deps/`):

    import credbox_helper as credbox

    class WitWorld(credbox.Helper):
        def credential(self, request):
            return credbox.bearer(credbox.config_required("API_TOKEN"))

    $ componentize-py -d wit -w helper-http componentize app -o helper.wasm

What this module gives, like the Rust SDK (`credbox-guest`):

- errors of each kind credbox knows: raise `Misconfigured`, `Denied`,
  `Unavailable`, `NotFound` or `Other`; any other exception is reported as
  `other` with its type and line, never as a crash;
- `config`, `config_required`, `log`, and `state_get`/`state_set`/
  `state_delete`;
- a blocking HTTP client on `wasi:http` (`get`, `post` with a form or JSON
  body, an overall timeout), which always sends `content-length`: without
  it a body goes chunked, and many token endpoints then see an empty form.
  Failures map to error kinds as the Rust SDK maps them: refused by
  credbox's allowlist is `denied` (credbox reports it itself, exit code 9),
  DNS, connection and timeout failures are `unavailable`. It does not
  follow redirects.

componentize-py's own `poll_loop.py` is not used: it imports
`wit_world.imports.types`, which in this world is named
`credbox_helper_types` / `wasi_http_types` (credbox and wasi:http both have
an interface called `types`), so it fails to import.
"""

import json as _json
import traceback as _traceback
from urllib.parse import urlencode as _urlencode
from urllib.parse import urlsplit as _urlsplit

from componentize_py_types import Err, Ok
from wit_world.imports import credbox_helper_types as types
from wit_world.imports import host as _host
from wit_world.imports import monotonic_clock as _clock
from wit_world.imports import outgoing_handler as _outgoing
from wit_world.imports import poll as _poll
from wit_world.imports import state as _state
from wit_world.imports import streams as _streams
from wit_world.imports import wasi_http_types as _http

__all__ = [
    "Helper", "Request", "Credential",
    "HelperError", "Misconfigured", "Denied", "Unavailable", "NotFound", "Other",
    "config", "config_required", "log", "state_get", "state_set", "state_delete",
    "credential", "bearer", "Response", "request", "get", "post",
]

Request = types.Request
Credential = types.Credential

USER_AGENT = "credbox-helper-python/0.1.0"

# Bytes asked for per read of a response body. credbox caps a body at 1 MiB.
_READ_CHUNK = 64 * 1024


# ---------------------------------------------------------------- errors


class HelperError(Exception):
    """A failure of a kind credbox knows; raise one of the subclasses."""

    def __init__(self, message):
        super().__init__(message)
        self.message = str(message)

    def to_wit(self):
        return types.Error_Other(self.message)


class Misconfigured(HelperError):
    """A setting is missing or wrong: retrying will not help (exit code 3)."""

    def to_wit(self):
        return types.Error_Misconfigured(self.message)


class Denied(HelperError):
    """The provider refused the secret (exit code 4)."""

    def to_wit(self):
        return types.Error_Denied(self.message)


class Unavailable(HelperError):
    """The provider could not be reached: transient (exit code 5)."""

    def to_wit(self):
        return types.Error_Unavailable(self.message)


class NotFound(HelperError):
    """No credential for what was asked (another host, registry...)."""

    def to_wit(self):
        return types.Error_NotFound(self.message)


class Other(HelperError):
    """Anything else."""


def _as_wit_error(error):
    """`error` (any exception) as credbox's WIT `error`."""
    if isinstance(error, HelperError):
        return error.to_wit()
    if isinstance(error, Err):
        # From a credbox import (state, keys, user): already a WIT error.
        if isinstance(error.value, (types.Error_Misconfigured, types.Error_Denied,
                                    types.Error_Unavailable, types.Error_NotFound,
                                    types.Error_Other)):
            return error.value
        return types.Error_Other(f"unexpected error from a host call: {error.value!r}")
    where = ""
    frames = _traceback.extract_tb(error.__traceback__)
    if frames:
        where = f" (at {frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno})"
    return types.Error_Other(f"unexpected {type(error).__name__}: {error}{where}")


class Helper:
    """The base of a helper's `WitWorld` class: implement `credential`
    (and `log_in`, for `credbox login`). Exceptions become credbox errors."""

    def credential(self, request):
        """Returns a `Credential` for `request` (a `Request`)."""
        raise Other("this helper does not implement credential()")

    def log_in(self):
        """Logs in (only `credbox login` calls it); the default has
        nothing to log in to."""
        raise Misconfigured("this helper has nothing to log in to")

    # The WIT exports, called by credbox.

    def fetch(self, req):
        try:
            return self.credential(req)
        except Exception as error:  # noqa: BLE001 - every failure is reported
            raise Err(_as_wit_error(error)) from None

    def login(self):
        try:
            self.log_in()
        except Exception as error:  # noqa: BLE001
            raise Err(_as_wit_error(error)) from None


# ------------------------------------------------------- host and state


def config(name):
    """The configuration value `name` ([config], --config, or an
    allowlisted environment variable), or None."""
    return _host.get_config(name)


def config_required(name):
    """`config(name)`, failing as misconfigured when it is absent."""
    value = _host.get_config(name)
    if value is None:
        raise Misconfigured(f"missing config {name}")
    return value


def log(level, message):
    """Logs `message` at `level` ("debug", "info", "warn" or "error") to
    credbox's stderr, redacted and capped by credbox."""
    levels = {"debug": _host.Level.DEBUG, "info": _host.Level.INFO,
              "warn": _host.Level.WARN, "error": _host.Level.ERROR}
    _host.log(levels[level], str(message))


def state_get(name):
    """The helper's state value `name`, or None."""
    return _state.get(name)


def state_set(name, value):
    """Stores `value` under `name` in the helper's state."""
    _state.set(name, value)


def state_delete(name):
    """Forgets the state value `name`."""
    _state.delete(name)


# ----------------------------------------------------------- credentials


def credential(headers=(), token=None, username=None, secret=None,
               expires_in=None, expires_at=None):
    """A `Credential` with every part given. `headers`: a dict or a list
    of (name, value) pairs, sent in order."""
    if isinstance(headers, dict):
        headers = headers.items()
    user_secret = None
    if username is not None or secret is not None:
        user_secret = types.UserSecret(username or "", secret or "")
    return types.Credential(
        headers=[types.Header(str(n), str(v)) for n, v in headers],
        token=token,
        user_secret=user_secret,
        aws=None,
        expires_in=None if expires_in is None else int(expires_in),
        expires_at=None if expires_at is None else int(expires_at),
    )


def bearer(token, expires_in=None):
    """`token`, for `Authorization: Bearer` and as an API key."""
    return credential(token=token, expires_in=expires_in)


# ------------------------------------------------------------------ HTTP


class Response:
    """A whole HTTP response: `status`, `headers` (a list of (name, value),
    names in lowercase), `body` (bytes) and `origin`."""

    def __init__(self, status, headers, body, origin):
        self.status = status
        self.headers = headers
        self.body = body
        self.origin = origin

    def header(self, name):
        """The first value of header `name`, or None."""
        name = name.lower()
        return next((v for n, v in self.headers if n == name), None)

    def error_for_status(self):
        """Itself, or for a 4xx/5xx status the error the Rust SDK gives:
        401/403 denied, 408/429/5xx unavailable, other 4xx misconfigured."""
        message = f"{self.origin} answered {self.status}"
        if self.status in (401, 403):
            raise Denied(message)
        if self.status in (408, 429) or self.status >= 500:
            raise Unavailable(message)
        if self.status >= 400:
            raise Misconfigured(message)
        return self

    def text(self):
        """The body as UTF-8 text."""
        try:
            return self.body.decode("utf-8")
        except UnicodeDecodeError:
            raise Other(f"{self.origin} sent a body that is not UTF-8") from None

    def json(self):
        """The body parsed as JSON. The error never quotes the body (it may
        hold a token)."""
        try:
            return _json.loads(self.text())
        except ValueError as error:
            where = getattr(error, "lineno", None)
            at = f" at line {where} column {error.colno}" if where else ""
            raise Other(f"{self.origin} sent JSON that does not parse{at}") from None


def get(url, headers=None, timeout=None):
    """`request("GET", url, ...)`."""
    return request("GET", url, headers=headers, timeout=timeout)


def post(url, form=None, json=None, body=None, headers=None, timeout=None):
    """`request("POST", url, ...)`: a form (dict or pairs, sent as
    application/x-www-form-urlencoded), a JSON value, or raw bytes."""
    return request("POST", url, headers=headers, form=form, json=json, body=body,
                   timeout=timeout)


def request(method, url, headers=None, form=None, json=None, body=None, timeout=None):
    """Sends one request and reads the whole response, within `timeout`
    seconds if given (else credbox's deadline bounds it). Returns a
    `Response` whatever its status; raises `Unavailable`, `Denied`,
    `Misconfigured` or `Other` when there is no response."""
    scheme, origin, authority, path = _parse_url(url)
    fields = [("user-agent", USER_AGENT)]
    if form is not None:
        body = _urlencode(list(form.items()) if isinstance(form, dict) else list(form)).encode()
        fields.append(("content-type", "application/x-www-form-urlencoded"))
    elif json is not None:
        body = _json.dumps(json, separators=(",", ":")).encode()
        fields.append(("content-type", "application/json"))
    elif isinstance(body, str):
        body = body.encode()
    given = dict(headers or {})
    fields = [(n, v) for n, v in fields if n not in {k.lower() for k in given}]
    fields += [(str(n).lower(), str(v)) for n, v in given.items()]
    if body is not None:
        # Always: without it wasi:http sends the body chunked.
        fields = [(n, v) for n, v in fields if n != "content-length"]
        fields.append(("content-length", str(len(body))))
    deadline = None
    if timeout is not None:
        deadline = (_clock.now() + int(timeout * 1e9), timeout)
    return _exchange(method, scheme, origin, authority, path,
                     [(n, v.encode()) for n, v in fields], body, deadline)


def _parse_url(url):
    """(scheme, origin, authority, path-with-query); the error quotes the
    URL without its query, which may hold a secret."""
    shown = url.split("?", 1)[0].split("#", 1)[0]
    try:
        parts = _urlsplit(url)
        port = parts.port
    except ValueError:
        raise Misconfigured(f"invalid URL {shown}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Misconfigured(f"invalid URL {shown}: not an http or https URL with a host")
    https = parts.scheme == "https"
    host = parts.hostname
    if ":" in host:
        host = f"[{host}]"
    default = 443 if https else 80
    port = default if port is None else port
    origin = f"{parts.scheme}://{host}" + ("" if port == default else f":{port}")
    authority = f"{host}:{port}"
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return parts.scheme, origin, authority, path


def _wait(ready, deadline, origin):
    """Blocks until the pollable `ready` is; `Unavailable` if the deadline
    passes first."""
    if deadline is None:
        ready.block()
        return
    with _clock.subscribe_instant(deadline[0]) as timer:
        if 0 not in _poll.poll([ready, timer]):
            raise Unavailable(f"{origin}: no complete answer within {_format_seconds(deadline[1])}")


def _format_seconds(seconds):
    return f"{seconds:g}s" if float(seconds).is_integer() else f"{round(seconds * 1000)}ms"


def _exchange(method, scheme, origin, authority, path, fields, body, deadline):
    try:
        headers = _http.Fields.from_list(fields)
    except Err as error:
        raise Other(f"{origin}: wasi:http refused a request header ({error.value!r})") from None
    outgoing = _http.OutgoingRequest(headers)
    methods = {"GET": _http.Method_Get(), "POST": _http.Method_Post(),
               "PUT": _http.Method_Put(), "DELETE": _http.Method_Delete(),
               "HEAD": _http.Method_Head(), "PATCH": _http.Method_Patch()}
    try:
        outgoing.set_method(methods.get(method.upper()) or _http.Method_Other(method))
        outgoing.set_scheme(_http.Scheme_Https() if scheme == "https" else _http.Scheme_Http())
        outgoing.set_authority(authority)
        outgoing.set_path_with_query(path)
    except Err:
        raise Other(f"{origin}: wasi:http refused the request's URL") from None
    outgoing_body = outgoing.body() if body is not None else None
    try:
        future = _outgoing.handle(outgoing, None)
    except Err as error:
        raise _map_error_code(origin, error.value) from None
    with future:
        if outgoing_body is not None:
            _write_body(outgoing_body, body, deadline, origin)
        with future.subscribe() as ready:
            _wait(ready, deadline, origin)
        result = future.get()
    if isinstance(result, Ok) and isinstance(result.value, Ok):
        response = result.value.value
    elif isinstance(result, Ok):
        raise _map_error_code(origin, result.value.value)
    else:
        raise Other(f"{origin}: wasi:http lost the response")
    with response:
        status = response.status()
        with response.headers() as header_fields:
            response_headers = [(n.lower(), v.decode("utf-8", "replace"))
                                for n, v in header_fields.entries()]
        incoming = response.consume()
        with incoming:
            data = _read_body(incoming, deadline, origin)
    return Response(status, response_headers, data, origin)


def _write_body(outgoing_body, body, deadline, origin):
    """Writes `body` and finishes it; a failed write means the request
    failed, which the response says how."""
    try:
        with outgoing_body.write() as stream:
            with stream.subscribe() as writable:
                rest = memoryview(body)
                while rest:
                    n = stream.check_write()
                    if n == 0:
                        _wait(writable, deadline, origin)
                        continue
                    stream.write(bytes(rest[:n]))
                    rest = rest[n:]
                stream.flush()
                _wait(writable, deadline, origin)
    except Err:
        pass
    try:
        _http.OutgoingBody.finish(outgoing_body, None)
    except Err:
        pass


def _read_body(incoming, deadline, origin):
    chunks = []
    with incoming.stream() as stream:
        with stream.subscribe() as readable:
            while True:
                try:
                    chunk = stream.read(_READ_CHUNK)
                except Err as error:
                    if isinstance(error.value, _streams.StreamError_Closed):
                        break
                    io_error = error.value.value
                    code = _http.http_error_code(io_error)
                    if code is not None:
                        raise _map_error_code(origin, code) from None
                    raise _map_body_error(origin, io_error.to_debug_string()) from None
                if chunk:
                    chunks.append(chunk)
                else:
                    _wait(readable, deadline, origin)
    return b"".join(chunks)


def _map_error_code(origin, code):
    """A wasi:http error code as the Rust SDK maps it."""
    def unavailable(what):
        return Unavailable(f"{origin}: {what}")
    h = _http
    if isinstance(code, (h.ErrorCode_HttpRequestDenied, h.ErrorCode_DestinationIpProhibited)):
        return Denied(f"request to {origin} refused by credbox's network policy")
    if isinstance(code, h.ErrorCode_DnsTimeout):
        return unavailable("DNS lookup timed out")
    if isinstance(code, h.ErrorCode_DnsError):
        rcode = code.value.rcode
        return unavailable(f"DNS lookup failed ({rcode})" if rcode else "DNS lookup failed")
    if isinstance(code, h.ErrorCode_DestinationNotFound):
        return unavailable("host not found")
    if isinstance(code, (h.ErrorCode_DestinationUnavailable, h.ErrorCode_DestinationIpUnroutable)):
        return unavailable("host unreachable")
    if isinstance(code, h.ErrorCode_ConnectionRefused):
        return unavailable("connection refused")
    if isinstance(code, (h.ErrorCode_ConnectionTerminated, h.ErrorCode_HttpResponseIncomplete)):
        return unavailable("connection closed before the response was complete")
    if isinstance(code, h.ErrorCode_ConnectionTimeout):
        return unavailable("timed out connecting")
    if isinstance(code, (h.ErrorCode_ConnectionReadTimeout, h.ErrorCode_HttpResponseTimeout)):
        return unavailable("timed out waiting for the response")
    if isinstance(code, h.ErrorCode_ConnectionWriteTimeout):
        return unavailable("timed out sending the request")
    if isinstance(code, h.ErrorCode_ConnectionLimitReached):
        return unavailable("connection limit reached")
    if isinstance(code, h.ErrorCode_TlsCertificateError):
        return unavailable("TLS certificate not trusted (a TLS-intercepting network? "
                           "see [network] ca_bundle)")
    if isinstance(code, (h.ErrorCode_TlsProtocolError, h.ErrorCode_TlsAlertReceived)):
        return unavailable("TLS handshake failed")
    if isinstance(code, h.ErrorCode_HttpResponseBodySize):
        return Other(f"{origin}: response body larger than credbox's 1 MiB cap")
    return Other(f"{origin}: {type(code).__name__.removeprefix('ErrorCode_')}")


def _map_body_error(origin, description):
    lower = description.lower()
    if "body size exceeds limit" in lower:
        return Other(f"{origin}: response body larger than credbox's 1 MiB cap")
    if "timeout" in lower or "timed out" in lower:
        return Unavailable(f"{origin}: timed out reading the response")
    return Unavailable(f"{origin}: response cut off ({description})")
