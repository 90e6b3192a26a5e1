// Client options and their defaults.

import type { BackoffOptions } from './backoff.js';
import type { EventSourceConstructor, FetchLike, WebSocketConstructor, XMLHttpRequestConstructor } from './env.js';
import type { TransportMemoryOption } from './transport-memory.js';
import { TRANSPORT_NAMES, type TransportName } from './transports/transport.js';

/** Probing for a better transport while connected on a lesser one. */
export interface UpgradeOptions {
  /** ms after connecting before the first probe (default 1 000); each failed round doubles it... */
  delay?: number;
  /** ...up to this (default 300 000). */
  maxDelay?: number;
}

export interface ClientOptions {
  /**
   * Transports in the order of preference (default `['websocket', 'sse', 'longpoll']`); those the environment
   * lacks are skipped. Connecting races them: the first starts, and each `raceDelay` ms without a welcome the next
   * starts beside it (at once when one fails); the first welcome wins.
   */
  transports?: TransportName[];
  /** ms a transport has to deliver its welcome before the next one starts beside it (default 300). */
  raceDelay?: number;
  /**
   * Move the session onto a better transport when one becomes possible (a proxy that refused WebSocket lets it
   * through): probes now and then, with backoff, while connected on a lesser one (default on; `false`: never).
   */
  upgrade?: UpgradeOptions | boolean;
  /**
   * Where to remember the transport that worked for this endpoint, so that the next connection starts with it
   * (default 'session': the page's sessionStorage in browsers, the process's memory elsewhere; 'local':
   * localStorage; 'memory': this page or process; false: this client only).
   */
  rememberTransport?: TransportMemoryOption;
  /** The WebSocket class (default: the global one; `null`: none). Node: `import WebSocket from 'ws'`. */
  WebSocket?: WebSocketConstructor | null;
  /** The EventSource class (default: the global one; `null`: none). Node: `import { EventSource } from 'eventsource'`. */
  EventSource?: EventSourceConstructor | null;
  /** The XMLHttpRequest class for long polling and sending (default: the global one; `null`: none). */
  XMLHttpRequest?: XMLHttpRequestConstructor | null;
  /** `fetch`, used where there is no XMLHttpRequest (default: the global one; `null`: none). */
  fetch?: FetchLike | null;
  /** Send cookies on cross-origin SSE and HTTP requests (default false). */
  withCredentials?: boolean;
  /**
   * Credentials: a token, or a function that returns one (or a promise of one), called before every connect
   * attempt so that a reconnect (after the credentials expired, say) gets a fresh token. Sent as the WebSocket
   * subprotocol `tidings.token.<token>` (offered with `tidings.v1`: browsers cannot set headers on a WebSocket),
   * and as `Authorization: Bearer <token>` on long polls and on every `POST /send`. An EventSource cannot send
   * headers: SSE carries the token only with `tokenInQuery`, and otherwise relies on cookies.
   */
  token?: string | (() => string | Promise<string>);
  /**
   * Also put the token in the SSE connect URL, as `?access_token=` (default false). Only for servers that enable
   * query tokens (they refuse them otherwise): URLs end up in logs and history. Other requests never carry it.
   */
  tokenInQuery?: boolean;
  /** ms a request waits for its answer, unless it says otherwise (default 10 000). */
  requestTimeout?: number;
  /** ms a transport has to deliver `welcome` before it is given up (default 10 000). */
  openTimeout?: number;
  /**
   * ms without any frame or heartbeat after which an open connection is taken for dead (default 60 000): on long
   * polling, and on WebSocket and SSE, which ask the server for `ping` frames (then the bound is twice the interval
   * the server announces, plus 2 s, when that is shorter; a stall there demotes the transport for 5 minutes).
   */
  stallTimeout?: number;
  /** Reconnection delays: exponential with full jitter between 0 and the bound (default 200 ms to 10 s). */
  backoff?: BackoffOptions;
  /** Acknowledge after this many unacknowledged frames at most (default 256, the protocol's bound). */
  ackEvery?: number;
  /** ...and within this many ms of the last frame processed (default 500; the protocol asks for under a second). */
  ackInterval?: number;
  /** Connect at once (default true); otherwise call `connect()`. */
  autoConnect?: boolean;
  /**
   * In a browser, end the session when the page is unloaded (default true), with a `navigator.sendBeacon` that
   * survives the unload: otherwise the server would keep the session, and its room memberships, for the whole
   * resume window. A page kept in the back/forward cache is left alone: it resumes when shown again.
   */
  closeOnPageHide?: boolean;
}

/** @internal */
export interface ResolvedOptions {
  transports: TransportName[];
  raceDelay: number;
  upgrade: Required<UpgradeOptions> | false;
  rememberTransport: TransportMemoryOption;
  withCredentials: boolean;
  token: string | (() => string | Promise<string>) | undefined;
  tokenInQuery: boolean;
  requestTimeout: number;
  openTimeout: number;
  stallTimeout: number;
  backoff: BackoffOptions;
  ackEvery: number;
  ackInterval: number;
  closeOnPageHide: boolean;
}

function positive(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(value > 0)) throw new TypeError(`${name} must be a positive number`);
  return value;
}

/** @internal */
export function resolveOptions(options: ClientOptions): ResolvedOptions {
  const transports = options.transports ?? TRANSPORT_NAMES.slice();
  for (const name of transports) {
    if (!TRANSPORT_NAMES.includes(name)) {
      throw new TypeError(`unknown transport ${String(name)}; expected one of ${TRANSPORT_NAMES.join(', ')}`);
    }
  }
  const token = options.token;
  if (token !== undefined && typeof token !== 'string' && typeof token !== 'function') {
    throw new TypeError('token must be a string or a function that returns one');
  }
  const remember = options.rememberTransport ?? 'session';
  if (remember !== false && remember !== 'session' && remember !== 'local' && remember !== 'memory') {
    throw new TypeError("rememberTransport must be 'session', 'local', 'memory' or false");
  }
  const upgrade = options.upgrade ?? true;
  const upgradeOptions = typeof upgrade === 'object' ? upgrade : {};
  return {
    transports: transports.filter((name, index) => transports.indexOf(name) === index),
    raceDelay: positive(options.raceDelay, 300, 'raceDelay'),
    upgrade:
      upgrade === false
        ? false
        : {
            delay: positive(upgradeOptions.delay, 1_000, 'upgrade.delay'),
            maxDelay: positive(upgradeOptions.maxDelay, 300_000, 'upgrade.maxDelay'),
          },
    rememberTransport: remember,
    withCredentials: options.withCredentials === true,
    token,
    tokenInQuery: options.tokenInQuery === true,
    requestTimeout: positive(options.requestTimeout, 10_000, 'requestTimeout'),
    openTimeout: positive(options.openTimeout, 10_000, 'openTimeout'),
    stallTimeout: positive(options.stallTimeout, 60_000, 'stallTimeout'),
    backoff: options.backoff ?? {},
    ackEvery: Math.max(1, Math.min(256, Math.floor(positive(options.ackEvery, 256, 'ackEvery')))),
    ackInterval: Math.min(1000, positive(options.ackInterval, 500, 'ackInterval')),
    closeOnPageHide: options.closeOnPageHide !== false,
  };
}
