// What the client needs from a transport, whichever way it carries frames. A transport is one connection attempt:
// it is opened once, reports frames and its end, and is then thrown away.

import type { EventSourceConstructor, WebSocketConstructor } from '../env.js';
import type { HttpClient } from '../http.js';
import type { ClientFrame, ServerFrame } from '../protocol.js';
import type { Endpoints } from '../url.js';

export type TransportName = 'websocket' | 'sse' | 'longpoll';

export const TRANSPORT_NAMES: readonly TransportName[] = ['websocket', 'sse', 'longpoll'];

/** The close code the client reports for a connection lost without a close frame (as WebSocket APIs do). */
export const ABNORMAL_CLOSURE = 1006;

export interface TransportHandlers {
  /** A frame arrived (`welcome` included; `close` frames are reported through `closed` instead). */
  frame(frame: ServerFrame): void;
  /** Something was heard from the server: a frame, a heartbeat, an empty poll. */
  activity(): void;
  /**
   * The connection ended; called at most once, and never after `close()` or `abandon()`. `status` is the HTTP
   * status of a request the server refused, where the transport can see it (long polling and `POST /send`
   * always; WebSocket and SSE only with Node's `ws` and `eventsource`, browsers hide it): 401 and 403 refuse the
   * credentials.
   */
  closed(code: number, reason: string, status?: number): void;
  /** Frames that certainly never reached the server (its session is gone): the client may send them again. */
  undelivered(frames: ClientFrame[]): void;
  /** Frames the server refused before handling them (HTTP 400 or 413 on `POST /send`). */
  rejected(frames: ClientFrame[], status: number): void;
}

export interface TransportContext {
  endpoints: Endpoints;
  handlers: TransportHandlers;
  /** The highest seq the client has processed: long polling acknowledges with it on every poll. */
  processed(): number;
  requestTimeout: number;
  stallTimeout: number;
  withCredentials: boolean;
  /** The token to send now (obtained for this connect attempt, or accepted by a refresh since), if any. */
  token(): string | undefined;
  /** Put the token in the SSE connect URL too (`access_token`). */
  tokenInQuery: boolean;
  WebSocket?: WebSocketConstructor;
  EventSource?: EventSourceConstructor;
  http?: HttpClient;
}

export interface ConnectParams {
  /** Resume this session... */
  session?: string;
  /** ...having processed every frame up to this seq. */
  ack?: number;
}

/** What is left of a connection the client walked away from. */
export interface Abandoned {
  /** Frames handed to `send` that never left this client: safe to send on the next connection. */
  unsent: ClientFrame[];
  /** Settles once requests already on the wire (an HTTP POST) are done, so later frames cannot overtake them. */
  settled: Promise<void>;
}

export interface Transport {
  readonly name: TransportName;
  /** True when server heartbeats are observable, so that a silent connection can be declared dead. */
  readonly seesHeartbeats: boolean;
  /** True when acknowledgements ride on the transport's own requests (long polling's `ack` parameter). */
  readonly acksImplicitly: boolean;
  open(params: ConnectParams): void;
  send(frames: ClientFrame[]): void;
  /** Acknowledges every frame up to `seq` (ignored when `acksImplicitly`). */
  sendAck(seq: number): void;
  /** Ends the session: the client is done. Resolves once the server was told (bounded by the request timeout). */
  close(): Promise<void>;
  /** Drops the connection without ending the session, so that another connection can resume it. */
  abandon(): Abandoned;
}

export type TransportFactory = (context: TransportContext) => Transport;
