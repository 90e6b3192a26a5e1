// The types of the client's public API: its states and events, and the options and results of its requests.

import type { TidingsError } from './errors.js';
import type { Missed, Position, Publication } from './protocol.js';
import type { TransportName } from './transports/transport.js';

export type ClientState = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'disconnected' | 'closed';

export type StateChange =
  /** A transport is being tried. */
  | { state: 'connecting'; transport: TransportName; attempt: number }
  /** `welcome` arrived: `resumed` tells whether the previous session goes on. */
  | { state: 'connected'; transport: TransportName; session: string; resumed: boolean }
  /**
   * Waiting `delay` ms before the next attempt. `status` (401 or 403) when the last attempt ended with the server
   * refusing the credentials.
   */
  | { state: 'reconnecting'; attempt: number; delay: number; status?: number }
  /** An open connection was lost; the client will reconnect. */
  | { state: 'disconnected'; code: number; reason: string }
  /**
   * For good: `close()` was called, the server said to give up, or it refused the credentials
   * {@link MAX_AUTH_REFUSALS} times in a row (code 1008, and the last refusal's HTTP `status`).
   */
  | { state: 'closed'; code: number; reason: string; status?: number };

export interface ClientEvents {
  state: StateChange;
  connected: { transport: TransportName; session: string; resumed: boolean };
  disconnected: { code: number; reason: string };
  /** Closed for good; `status` when the server refused the credentials (see the `closed` state). */
  closed: { code: number; reason: string; status?: number };
  /**
   * The session moved to another transport without the application having to do anything: an upgrade (a proxy
   * that refused WebSocket lets it through now), or a handover after a connection of the race took it. Nothing was
   * lost or doubled on the way (`resumed`), and subscriptions and rooms are intact.
   */
  transport: { transport: TransportName; previous: TransportName; session: string; resumed: boolean };
  /** A new session began (the first one, or after the previous one could not be resumed). */
  session: { session: string; previous: string | null };
  /**
   * A transport failed to open; the next one in the order is tried. `status` is the HTTP status of a refused
   * connect request, where it can be seen (see `token` in the README).
   */
  transportFailed: { transport: TransportName; reason: string; status?: number };
  /**
   * An error that answers no request of this client: an error frame without an id, or (code `auth_refused`, with
   * `status`) the server refusing the credentials of a connect attempt.
   */
  error: TidingsError;
}

export interface RequestOptions {
  /** ms; defaults to the client's `requestTimeout`. */
  timeout?: number;
}

export interface HistoryOptions extends RequestOptions {
  /** Only publications after this position. */
  since?: Position;
  /** At most this many. */
  limit?: number;
}

export interface HistoryPage<T = unknown> {
  publications: Publication<T>[];
  position: Position;
  /** Publications after `since` are no longer retained, or `since` is from another epoch. */
  gap: boolean;
  /** Which publications, when `gap` (absent from servers that do not say). */
  missed?: Missed;
}
