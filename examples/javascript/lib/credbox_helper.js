// Write a credbox helper in JavaScript (componentize-js 0.23.0).
//
// The helper is a module that exports `fetch` and `login`, made by
// `exports` from an object with `credential(request)` (and `logIn()`),
// built against the world `helper-http` of `credbox:helper@0.3.0`
// (`wit/helper.wit`, with the `wasi:*` packages it needs in `wit/deps/`):
//
//     import * as credbox from './credbox_helper.js';
//
//     export const { fetch, login } = credbox.exports({
//       credential(request) {
//         return credbox.bearer(credbox.configRequired('API_TOKEN'));
//       },
//     });
//
//     $ componentize-js app.js --wit wit --world-name helper-http -o helper.wasm
//
// What this module gives, like the Rust SDK (`credbox-guest`):
//
// - errors of each kind credbox knows: throw `credbox.misconfigured(msg)`,
//   `denied`, `unavailable`, `notFound` or `other`; anything else thrown is
//   reported as `other` with its name and message, never as a crash;
// - `config`, `configRequired`, `log`, and `stateGet`/`stateSet`/
//   `stateDelete`;
// - HTTP on the engine's `fetch` (StarlingMonkey's, over `wasi:http`):
//   `get`, `post` with a form or JSON body (always a string, so that
//   `content-length` is sent: a chunked body reaches many token endpoints
//   empty), an overall timeout, and statuses mapped to error kinds as the
//   Rust SDK maps them. A request credbox's allowlist refuses is reported
//   by credbox itself (exit code 9); other failures are `unavailable`.
//
// `credential` may be async (`await credbox.post(...)`): componentize-js
// runs the event loop until the export's promise settles.

import { getConfig, log as hostLog } from 'credbox:helper/host@0.3.0';
import {
  get as hostStateGet,
  set as hostStateSet,
  delete as hostStateDelete,
} from 'credbox:helper/state@0.3.0';

export const USER_AGENT = 'credbox-helper-javascript/0.1.0';

const KINDS = ['misconfigured', 'denied', 'unavailable', 'not-found', 'other'];

// ------------------------------------------------------------- errors

/** A failure of a kind credbox knows. */
export class HelperError extends Error {
  constructor(kind, message) {
    super(String(message));
    this.name = 'HelperError';
    this.kind = kind;
  }
}

/** A setting is missing or wrong: retrying will not help (exit code 3). */
export const misconfigured = (message) => new HelperError('misconfigured', message);
/** The provider refused the secret (exit code 4). */
export const denied = (message) => new HelperError('denied', message);
/** The provider could not be reached: transient (exit code 5). */
export const unavailable = (message) => new HelperError('unavailable', message);
/** No credential for what was asked (another host, registry...). */
export const notFound = (message) => new HelperError('not-found', message);
/** Anything else. */
export const other = (message) => new HelperError('other', message);

/** `error` (anything thrown) as credbox's WIT `error` variant. */
function asWitError(error) {
  if (error instanceof HelperError) {
    return { tag: error.kind, val: error.message };
  }
  // From a credbox import (state): the WIT error, or an Error carrying it.
  for (const candidate of [error, error && error.payload]) {
    if (candidate && KINDS.includes(candidate.tag) && typeof candidate.val === 'string') {
      return { tag: candidate.tag, val: candidate.val };
    }
  }
  const name = (error && error.name) || typeof error;
  const message = error && error.message !== undefined ? error.message : String(error);
  return { tag: 'other', val: `unexpected ${name}: ${message}` };
}

/**
 * The component's exports, `fetch` and `login`, from `helper`:
 * `credential(request)` returns a credential (or a promise of one);
 * `logIn()`, for `credbox login`, is optional.
 */
export function exports(helper) {
  return {
    async fetch(request) {
      try {
        return await helper.credential(request);
      } catch (error) {
        throw asWitError(error);
      }
    },
    async login() {
      try {
        if (!helper.logIn) {
          throw misconfigured('this helper has nothing to log in to');
        }
        await helper.logIn();
      } catch (error) {
        throw asWitError(error);
      }
    },
  };
}

// --------------------------------------------------- host and state

/** The configuration value `name`, or undefined. */
export function config(name) {
  const value = getConfig(name);
  return value === null ? undefined : value;
}

/** `config(name)`, failing as misconfigured when it is absent. */
export function configRequired(name) {
  const value = config(name);
  if (value === undefined) {
    throw misconfigured(`missing config ${name}`);
  }
  return value;
}

/** Logs `message` at `level` (debug, info, warn, error), redacted and
 * capped by credbox. */
export function log(level, message) {
  hostLog(level, String(message));
}

/** The helper's state value `name`, or undefined. */
export function stateGet(name) {
  const value = hostStateGet(name);
  return value === null ? undefined : value;
}

/** Stores `value` under `name` in the helper's state. */
export function stateSet(name, value) {
  hostStateSet(name, String(value));
}

/** Forgets the state value `name`. */
export function stateDelete(name) {
  hostStateDelete(name);
}

// ------------------------------------------------------- credentials

/** A credential with every part given; `headers` an object or a list of
 * [name, value] pairs, sent in order. */
export function credential({ headers = [], token, username, secret, expiresIn, expiresAt } = {}) {
  const pairs = Array.isArray(headers) ? headers : Object.entries(headers);
  const integer = (n) => (n === undefined || n === null ? undefined : BigInt(Math.floor(Number(n))));
  return {
    headers: pairs.map(([name, value]) => ({ name: String(name), value: String(value) })),
    token,
    userSecret:
      username !== undefined || secret !== undefined
        ? { username: username || '', secret: secret || '' }
        : undefined,
    aws: undefined,
    expiresIn: integer(expiresIn),
    expiresAt: integer(expiresAt),
  };
}

/** `token`, for `Authorization: Bearer` and as an API key. */
export function bearer(token, expiresIn) {
  return credential({ token, expiresIn });
}

// -------------------------------------------------------------- HTTP

/** A whole HTTP response. */
export class Response {
  constructor(status, headers, body, origin) {
    this.status = status;
    this.headers = headers;
    this.body = body;
    this.origin = origin;
  }

  /** The value of header `name`, or undefined. */
  header(name) {
    const value = this.headers.get(name);
    return value === null ? undefined : value;
  }

  /** Itself, or for a 4xx/5xx status the error the Rust SDK gives: 401/403
   * denied, 408/429/5xx unavailable, other 4xx misconfigured. */
  errorForStatus() {
    const message = `${this.origin} answered ${this.status}`;
    if (this.status === 401 || this.status === 403) throw denied(message);
    if (this.status === 408 || this.status === 429 || this.status >= 500) throw unavailable(message);
    if (this.status >= 400) throw misconfigured(message);
    return this;
  }

  /** The body as text. */
  text() {
    return this.body;
  }

  /** The body parsed as JSON. The error never quotes the body (it may hold
   * a token). */
  json() {
    try {
      return JSON.parse(this.body);
    } catch {
      throw other(`${this.origin} sent JSON that does not parse`);
    }
  }
}

/** `request('GET', url, options)`. */
export function get(url, options = {}) {
  return request('GET', url, options);
}

/** `request('POST', url, options)`: `form` (an object or [name, value]
 * pairs, sent as application/x-www-form-urlencoded), `json`, or `body`. */
export function post(url, options = {}) {
  return request('POST', url, options);
}

/**
 * Sends one request and reads the whole response, within `timeout`
 * seconds if given (else credbox's deadline bounds it). Resolves to a
 * `Response` whatever its status; rejects with a `HelperError` when there
 * is no response.
 */
export async function request(method, url, { headers = {}, form, json, body, timeout } = {}) {
  const shown = String(url).split(/[?#]/)[0];
  let parsed;
  try {
    parsed = new URL(url);
  } catch {
    throw misconfigured(`invalid URL ${shown}`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw misconfigured(`invalid URL ${shown}: not an http or https URL`);
  }
  const origin = parsed.origin;
  const sent = { 'user-agent': USER_AGENT };
  if (form !== undefined) {
    body = new URLSearchParams(Array.isArray(form) ? form : Object.entries(form)).toString();
    sent['content-type'] = 'application/x-www-form-urlencoded';
  } else if (json !== undefined) {
    body = JSON.stringify(json);
    sent['content-type'] = 'application/json';
  }
  for (const [name, value] of Object.entries(headers)) {
    sent[name.toLowerCase()] = String(value);
  }
  const init = { method, headers: sent };
  if (body !== undefined) {
    // A string or bytes: the engine sends its length as content-length.
    init.body = body;
  }
  let timer;
  let timedOut = false;
  if (timeout !== undefined) {
    const controller = new AbortController();
    init.signal = controller.signal;
    timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, timeout * 1000);
  }
  try {
    const response = await globalThis.fetch(parsed.href, init);
    const text = await response.text();
    return new Response(response.status, response.headers, text, origin);
  } catch (error) {
    if (timedOut) {
      throw unavailable(`${origin}: no complete answer within ${timeout}s`);
    }
    throw unavailable(`${origin}: no answer (${(error && error.message) || error})`);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}
