// The client: one session with a Tidings server, kept alive across connections and transports. It owns the
// connection lifecycle (fallback, backoff, resume), exactly-once processing by `seq`, acknowledgements, requests
// and their answers, and the subscriptions and rooms it restores on a new session. The bookkeeping of pending
// requests is in requests.ts, of acknowledgements in acks.ts; the public types are in client-types.ts.

import { Acks } from './acks.js';
import { Backoff } from './backoff.js';
import type { Channel } from './channel.js';
import { CloseCode, shouldReconnect } from './close-codes.js';
import type {
  ClientEvents,
  ClientState,
  HistoryOptions,
  HistoryPage,
  RequestOptions,
  StateChange,
} from './client-types.js';
import { resolveHostApi } from './env.js';
import { ClientErrorCode, MAX_AUTH_REFUSALS, TidingsError } from './errors.js';
import { Emitter } from './events.js';
import { createHttpClient } from './http.js';
import { resolveOptions, type ClientOptions, type ResolvedOptions } from './options.js';
import { watchPageHide } from './page-hide.js';
import {
  ProtocolViolation,
  toHistoryReply,
  toPosition,
  toRefreshReply,
  type ClientFrame,
  type Position,
  type Publication,
  type RequestFrame,
  type SequencedFrame,
  type ServerFrame,
  type WelcomeFrame,
} from './protocol.js';
import { Requests, type WithoutId } from './requests.js';
import { Room, type JoinOptions } from './room.js';
import { Subscription, type SubscribeOptions } from './subscription.js';
import { LongPollTransport } from './transports/longpoll.js';
import { SseTransport } from './transports/sse.js';
import {
  ABNORMAL_CLOSURE,
  type Transport,
  type TransportContext,
  type TransportName,
} from './transports/transport.js';
import { WebSocketTransport } from './transports/websocket.js';
import { Endpoints } from './url.js';

interface Connection {
  name: TransportName;
  transport: Transport;
  /** `welcome` arrived. */
  opened: boolean;
  /** Frames may be sent (after an earlier connection's last HTTP request settled). */
  ready: boolean;
  openTimer: ReturnType<typeof setTimeout> | null;
  stallTimer: ReturnType<typeof setTimeout> | null;
  lastActivity: number;
}

const now = (): number => Date.now();

export class Client extends Emitter<ClientEvents> {
  private readonly options: ResolvedOptions;
  private readonly endpoints: Endpoints;
  private readonly hostApis: Pick<TransportContext, 'WebSocket' | 'EventSource' | 'http'>;
  private readonly available: TransportName[];
  private readonly backoff: Backoff;
  private current: ClientState = 'idle';
  private conn: Connection | null = null;
  private session: string | null = null;
  private readonly ownSessions = new Set<string>();
  private readonly acks: Acks;
  private preferred: TransportName | null = null;
  private candidates: TransportName[] = [];
  private candidateIndex = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  /** Frames waiting for a connection, in the order they must reach the session. */
  private buffer: ClientFrame[] = [];
  private readonly requests = new Requests((id) => this.removeFromBuffer(id));
  private readonly channels = new Map<string, Channel>();
  /** An abandoned connection's HTTP request still on the wire: later frames wait for it, to keep their order. */
  private barrier: Promise<void> | null = null;
  /** The token requests carry: the one obtained for the last connect attempt, or accepted by a refresh since. */
  private token: string | undefined;
  /** Connect attempts refused with 401 or 403 since the last connection opened. */
  private authRefusals = 0;

  constructor(url: string, options: ClientOptions = {}) {
    super();
    this.endpoints = new Endpoints(url);
    this.options = resolveOptions(options);
    this.token = typeof this.options.token === 'string' ? this.options.token : undefined;
    this.backoff = new Backoff(this.options.backoff);
    this.acks = new Acks(this.options, () => this.conn);
    this.hostApis = {
      WebSocket: resolveHostApi(options.WebSocket, 'WebSocket'),
      EventSource: resolveHostApi(options.EventSource, 'EventSource'),
      http: createHttpClient({
        XMLHttpRequest: options.XMLHttpRequest,
        fetch: options.fetch,
        withCredentials: this.options.withCredentials,
      }),
    };
    const { WebSocket, EventSource, http } = this.hostApis;
    this.available = this.options.transports.filter((name) =>
      name === 'websocket' ? WebSocket !== undefined : name === 'sse' ? EventSource !== undefined && !!http : !!http,
    );
    if (this.available.length === 0) {
      throw new TypeError(
        `none of the transports ${this.options.transports.join(', ')} can run here: ` +
          'pass the WebSocket, EventSource, XMLHttpRequest or fetch implementation in the options',
      );
    }
    if (this.options.closeOnPageHide) {
      watchPageHide(this.endpoints, this.options.withCredentials, {
        sessionToEnd: () => (this.current === 'closed' ? null : this.session),
        token: () => this.token,
      });
    }
    if (options.autoConnect !== false) this.connect();
  }

  /** The connection state. */
  get state(): ClientState {
    return this.current;
  }

  /** The transport of the open connection, or null while there is none. */
  get transport(): TransportName | null {
    return this.conn && this.conn.opened ? this.conn.name : null;
  }

  /** The current session's id, once the server gave one. */
  get sessionId(): string | null {
    return this.session;
  }

  /** Starts connecting (only needed with `autoConnect: false`). */
  connect(): this {
    if (this.current !== 'idle') return this;
    this.current = 'connecting';
    // A microtask later, so that listeners added right after `new Client()` see the first state change.
    Promise.resolve().then(() => {
      if (this.current === 'connecting' && this.conn === null) this.startCycle();
    });
    return this;
  }

  /** Resolves once connected (at once if already), rejects if the client closes first. */
  ready(): Promise<void> {
    if (this.conn && this.conn.opened) return Promise.resolve();
    if (this.current === 'closed') return Promise.reject(this.closedError('the client is closed'));
    return new Promise((resolve, reject) => {
      const offConnected = this.once('connected', () => {
        offClosed();
        resolve();
      });
      const offClosed = this.once('closed', ({ code, reason, status }) => {
        offConnected();
        reject(new TidingsError(ClientErrorCode.Closed, `the client closed (${code} ${reason})`, code, status));
      });
    });
  }

  /**
   * Subscribes to `topic`. Returns at once; publications that arrive from now on go to `onPublication`, the
   * 'publication' listeners and the async iterator.
   */
  subscribe<T = unknown>(
    topic: string,
    onPublication?: ((publication: Publication<T>) => void) | SubscribeOptions,
    options: SubscribeOptions = {},
  ): Subscription<T> {
    this.assertUsable();
    if (typeof onPublication === 'object') options = onPublication;
    this.assertFree(topic);
    const subscription = new Subscription<T>(this, topic, options);
    if (typeof onPublication === 'function') subscription.on('publication', onPublication);
    this.channels.set(topic, subscription);
    this.enqueue(this.channelRequest(subscription));
    return subscription;
  }

  /**
   * Joins the room `topic` with `params` (what its handler's `join` decodes). Resolves with the room once the
   * handler accepted; rejects with its refusal.
   */
  join<T = unknown, Meta = unknown, Reply = unknown>(
    topic: string,
    params?: unknown,
    options: JoinOptions = {},
  ): Promise<Room<T, Meta, Reply>> {
    try {
      this.assertUsable();
      this.assertFree(topic);
    } catch (error) {
      return Promise.reject(error);
    }
    const room = new Room<T, Meta, Reply>(this, topic, params, options);
    this.channels.set(topic, room);
    this.enqueue(this.channelRequest(room));
    return room.joined;
  }

  /** Publishes `data` to `topic` (if its handler lets clients publish); resolves with its position. */
  publish(topic: string, data: unknown, options: RequestOptions = {}): Promise<Position> {
    return this.call({ type: 'publish', topic, data }, options.timeout).then(toPosition);
  }

  /**
   * Sends `data` to the handler of `topic` (which this client must have subscribed to or joined) and resolves
   * with its reply (undefined when it has none).
   */
  request<R = unknown>(topic: string, data?: unknown, options: RequestOptions = {}): Promise<R> {
    return this.call({ type: 'message', topic, data }, options.timeout) as Promise<R>;
  }

  /**
   * Sends fresh credentials in band, so that the server keeps the session past the expiry of the token it
   * connected with (a session whose credentials expire is closed with 4003, and the client reconnects with a token
   * obtained afresh). Resolves with the new expiry (ms since the epoch), or null when the new credentials do not
   * expire; rejects with code `unauthorized` when the server refuses the token (expired, invalid, another user's),
   * which changes nothing. Once accepted, the token goes with the client's later HTTP requests and, unless the
   * `token` option is a function (which is asked again), with its reconnects.
   */
  refresh(token: string, options: RequestOptions = {}): Promise<number | null> {
    if (typeof token !== 'string' || token === '') return Promise.reject(new TypeError('refresh needs a token'));
    return this.call({ type: 'refresh', token }, options.timeout).then((data) => {
      const expiresAt = toRefreshReply(data);
      this.token = token;
      return expiresAt;
    });
  }

  /** Reads the retained publications of `topic`. */
  history<T = unknown>(topic: string, options: HistoryOptions = {}): Promise<HistoryPage<T>> {
    const frame: WithoutId<RequestFrame> = { type: 'history', topic, since: options.since, limit: options.limit };
    return this.call(frame, options.timeout).then((data) => {
      const page = toHistoryReply(data);
      return {
        publications: page.publications.map((entry) => ({
          topic,
          offset: entry.offset,
          epoch: entry.epoch,
          data: entry.data as T,
        })),
        position: page.position,
        gap: page.gap,
        ...(page.missed ? { missed: page.missed } : {}),
      };
    });
  }

  /**
   * Ends the session and stops reconnecting. Pending requests fail with code `closed`; subscriptions and rooms
   * end. Resolves once the server was told (bounded by `requestTimeout`).
   */
  close(): Promise<void> {
    if (this.current === 'closed') return Promise.resolve();
    const conn = this.conn;
    this.conn = null;
    let told: Promise<void> = Promise.resolve();
    if (conn) {
      this.clearConnectionTimers(conn);
      if (conn.opened) told = conn.transport.close();
      else conn.transport.abandon();
    }
    this.terminate(1000, 'client closed', true);
    return told.catch(() => undefined);
  }

  // ---- host interface of subscriptions and rooms ----

  /** @internal */
  closeChannel(channel: Channel): Promise<void> {
    if (this.channels.get(channel.topic) !== channel) return Promise.resolve();
    this.channels.delete(channel.topic);
    const pendingId = channel.pendingRequestId;
    const pending = pendingId === null ? undefined : this.requests.get(pendingId);
    channel.handleEnded(null);
    if (pendingId !== null && pending && pending.sentOn === null) {
      // The server never heard of it: forgetting the subscribe is all it takes.
      this.requests.forget(pendingId);
      this.removeFromBuffer(pendingId);
      channel.pendingRequestId = null;
      return Promise.resolve();
    }
    const type = channel.kind === 'join' ? 'leave' : 'unsubscribe';
    return new Promise((resolve, reject) => {
      const frame = this.requests.add({ type, topic: channel.topic }, this.options.requestTimeout, {
        closes: true,
        onReply: () => resolve(),
        // Not subscribed (any more) is what was asked for: a new session, for instance, never was.
        onError: (error) =>
          error.code === 'not_subscribed' || error.code === 'not_joined' ? resolve() : reject(error),
      });
      this.enqueue(frame);
    });
  }

  /** @internal */
  message(topic: string, data: unknown, timeout?: number): Promise<unknown> {
    return this.call({ type: 'message', topic, data }, timeout);
  }

  /** @internal */
  isOwnSession(session: string): boolean {
    return this.ownSessions.has(session);
  }

  // ---- requests ----

  private call(frame: WithoutId<RequestFrame>, timeout?: number): Promise<unknown> {
    return new Promise((resolve, reject) => {
      try {
        this.assertUsable();
      } catch (error) {
        return reject(error);
      }
      const handlers = { closes: false, onReply: resolve, onError: reject };
      this.enqueue(this.requests.add(frame, timeout ?? this.options.requestTimeout, handlers));
    });
  }

  /** A subscription's or room's subscribe/join, answered into the channel itself. */
  private channelRequest(channel: Channel): ClientFrame {
    const active = (): boolean => this.channels.get(channel.topic) === channel;
    return this.requests.addChannel(channel, {
      onReply: (data) => {
        if (!active()) return;
        try {
          channel.handleOpened(data);
        } catch (error) {
          this.channels.delete(channel.topic);
          const message = error instanceof ProtocolViolation ? error.message : String(error);
          channel.handleRefused(new TidingsError(ClientErrorCode.BadResponse, message));
        }
      },
      onError: (error) => {
        if (!active()) return;
        this.channels.delete(channel.topic);
        channel.handleRefused(error);
      },
    });
  }

  private assertUsable(): void {
    if (this.current === 'closed') throw this.closedError('the client is closed');
  }

  private assertFree(topic: string): void {
    const existing = this.channels.get(topic);
    if (existing) {
      throw new TidingsError(
        ClientErrorCode.InvalidState,
        `${topic} is already ${existing.kind === 'join' ? 'joined' : 'subscribed to'} by this client`,
      );
    }
  }

  private closedError(message: string, code?: number): TidingsError {
    return new TidingsError(ClientErrorCode.Closed, message, code);
  }

  // ---- outgoing frames ----

  private enqueue(frame: ClientFrame): void {
    this.buffer.push(frame);
    this.flush();
  }

  private flush(): void {
    const conn = this.conn;
    if (!conn || !conn.ready || this.buffer.length === 0) return;
    const frames = this.buffer;
    this.buffer = [];
    this.requests.sent(frames, this.session);
    conn.transport.send(frames);
  }

  /**
   * Frames that never reached the server go back to the front of the buffer, ahead of anything newer. They are
   * not sent from here: this runs while a transport reports its session gone or replaced, and the next `welcome`
   * decides where they go (after the re-subscriptions of a new session).
   */
  private requeue(frames: ClientFrame[]): void {
    const keep = frames.filter((frame) => {
      if (!('id' in frame) || frame.id === undefined) return frame.type !== 'ack';
      return this.requests.unsent(frame.id);
    });
    if (keep.length > 0) this.buffer = keep.concat(this.buffer);
  }

  private removeFromBuffer(id: number): void {
    this.buffer = this.buffer.filter((frame) => !('id' in frame) || frame.id !== id);
  }

  // ---- connecting ----

  private startCycle(): void {
    const preferred = this.preferred;
    // The transport that worked last goes first; if it fails to open, the others follow in their order.
    this.candidates = preferred
      ? [preferred].concat(this.available.filter((name) => name !== preferred))
      : this.available.slice();
    this.candidateIndex = 0;
    this.tryNext();
  }

  private tryNext(): void {
    while (this.current !== 'closed' && this.candidateIndex < this.candidates.length) {
      if (this.open(this.candidates[this.candidateIndex++])) return;
    }
    if (this.current !== 'closed') this.scheduleReconnect();
  }

  private open(name: TransportName): boolean {
    const context: TransportContext = {
      endpoints: this.endpoints,
      processed: () => this.acks.processed,
      requestTimeout: this.options.requestTimeout,
      stallTimeout: this.options.stallTimeout,
      withCredentials: this.options.withCredentials,
      token: () => this.token,
      tokenInQuery: this.options.tokenInQuery,
      ...this.hostApis,
      handlers: {
        frame: (frame) => this.onFrame(conn, frame),
        activity: () => {
          conn.lastActivity = now();
        },
        closed: (code, reason, status) => this.connectionEnded(conn, code, reason, status),
        undelivered: (frames) => this.requeue(frames),
        rejected: (frames, status) => this.requests.rejected(frames, status),
      },
    };
    let transport: Transport;
    try {
      transport =
        name === 'websocket'
          ? new WebSocketTransport(context)
          : name === 'sse'
            ? new SseTransport(context)
            : new LongPollTransport(context);
    } catch (error) {
      this.emit('transportFailed', { transport: name, reason: String(error) });
      return false;
    }
    const conn: Connection = {
      name,
      transport,
      opened: false,
      ready: false,
      openTimer: null,
      stallTimer: null,
      lastActivity: now(),
    };
    this.conn = conn;
    this.setState({ state: 'connecting', transport: name, attempt: this.backoff.attempt });
    // A listener may have closed the client.
    if (this.conn !== conn) return true;
    // The open timeout covers the token function too: one that never answers must not stall the client.
    conn.openTimer = setTimeout(
      () => this.connectionEnded(conn, ABNORMAL_CLOSURE, `no welcome within ${this.options.openTimeout} ms`),
      this.options.openTimeout,
    );
    const tokenFn = this.options.token;
    if (typeof tokenFn !== 'function') {
      this.startTransport(conn);
      return true;
    }
    // A fresh token for every attempt: a reconnect after the credentials expired must not send the old one.
    Promise.resolve()
      .then(() => tokenFn())
      .then((token) => {
        if (conn !== this.conn) return;
        if (typeof token !== 'string' || token === '') {
          throw new TypeError(`the token function returned ${token === '' ? 'an empty string' : typeof token}`);
        }
        this.token = token;
        this.startTransport(conn);
      })
      .catch((error: unknown) => {
        if (conn !== this.conn) return;
        this.connectionEnded(conn, ABNORMAL_CLOSURE, `the token function failed: ${String(error)}`);
      });
    return true;
  }

  /** Opens `conn`'s transport, resuming the session if there is one. */
  private startTransport(conn: Connection): void {
    try {
      const resuming = this.session !== null;
      conn.transport.open(resuming ? { session: this.session ?? undefined, ack: this.acks.processed } : {});
    } catch (error) {
      // connectionEnded moves on to the next candidate.
      this.connectionEnded(conn, ABNORMAL_CLOSURE, String(error));
    }
  }

  private scheduleReconnect(refusedWith?: number): void {
    if (this.current === 'closed') return;
    const delay = this.backoff.next();
    const change: StateChange = { state: 'reconnecting', attempt: this.backoff.attempt, delay };
    if (refusedWith !== undefined) change.status = refusedWith;
    this.setState(change);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (this.current !== 'closed') this.startCycle();
    }, delay);
  }

  private watchStall(conn: Connection): void {
    if (!conn.transport.seesHeartbeats) return;
    const limit = this.options.stallTimeout;
    const check = (): void => {
      if (conn !== this.conn) return;
      const idle = now() - conn.lastActivity;
      if (idle >= limit) this.connectionEnded(conn, ABNORMAL_CLOSURE, `nothing heard for ${idle} ms`);
      else conn.stallTimer = setTimeout(check, limit - idle);
    };
    conn.stallTimer = setTimeout(check, limit);
  }

  private clearConnectionTimers(conn: Connection): void {
    if (conn.openTimer) clearTimeout(conn.openTimer);
    if (conn.stallTimer) clearTimeout(conn.stallTimer);
    conn.openTimer = conn.stallTimer = null;
  }

  /**
   * The connection `conn` is over, for whatever reason: fall back, reconnect, or give up. `status` is the HTTP
   * status of a request the server refused, when the transport saw one.
   */
  private connectionEnded(conn: Connection, code: number, reason: string, status?: number): void {
    if (conn !== this.conn) return;
    this.conn = null;
    this.clearConnectionTimers(conn);
    this.acks.cancel();
    const { unsent, settled } = conn.transport.abandon();
    this.holdUntil(settled);
    this.requeue(unsent);
    if (!conn.opened) {
      const failed: ClientEvents['transportFailed'] = { transport: conn.name, reason: `${code} ${reason}` };
      if (status !== undefined) failed.status = status;
      this.emit('transportFailed', failed);
      if (status === 401 || status === 403) this.authRefused(conn.name, status, reason);
      else this.tryNext();
    } else if (!shouldReconnect(code)) {
      this.terminate(code, reason, false);
    } else {
      this.setState({ state: 'disconnected', code, reason });
      this.scheduleReconnect();
    }
  }

  /**
   * A connect attempt was refused with 401 or 403: said with an `error` event; the next transport is tried (they
   * carry credentials differently: subprotocol, header, query or cookie), each asking the token function again,
   * until {@link MAX_AUTH_REFUSALS} refusals in a row close the client.
   */
  private authRefused(transport: TransportName, status: number, reason: string): void {
    this.authRefusals++;
    const message = `${transport}: the server refused the credentials (HTTP ${status}): ${reason}`;
    this.emit('error', new TidingsError(ClientErrorCode.AuthRefused, message, undefined, status));
    if (this.current === 'closed') return; // closed by a listener
    if (this.authRefusals >= MAX_AUTH_REFUSALS) {
      const summary = `the server refused the credentials ${this.authRefusals} times in a row (HTTP ${status}: ${reason})`;
      this.terminate(CloseCode.PolicyViolation, summary, false, status);
      return;
    }
    if (this.candidateIndex < this.candidates.length) this.tryNext();
    else this.scheduleReconnect(status);
  }

  private holdUntil(settled: Promise<void>): void {
    const barrier: Promise<void> = Promise.all([this.barrier, settled]).then(
      () => undefined,
      () => undefined,
    );
    this.barrier = barrier;
    barrier.then(() => {
      if (this.barrier === barrier) this.barrier = null;
    });
  }

  // ---- incoming frames ----

  private onFrame(conn: Connection, frame: ServerFrame): void {
    if (conn !== this.conn) return;
    conn.lastActivity = now();
    if (frame.type === 'welcome') return this.onWelcome(conn, frame);
    if (!conn.opened) return this.connectionEnded(conn, 1002, `${frame.type} frame before welcome`);
    if (frame.type === 'close') return; // transports report close frames as the end of the connection
    // A resumed connection replays from our ack; anything at or below what we processed was handled already.
    if (frame.seq <= this.acks.processed) return;
    if (frame.seq !== this.acks.processed + 1) {
      const message = `frame ${frame.seq} arrived after ${this.acks.processed}: reconnecting to resume from the gap`;
      this.emit('error', new TidingsError(ClientErrorCode.BadResponse, message));
      return this.connectionEnded(conn, ABNORMAL_CLOSURE, message);
    }
    this.acks.advance(frame.seq);
    this.dispatch(frame);
    this.acks.schedule();
  }

  private dispatch(frame: SequencedFrame): void {
    switch (frame.type) {
      case 'reply': {
        const request = this.requests.take(frame.id);
        request?.onReply(frame.data);
        return;
      }
      case 'error': {
        const error = new TidingsError(frame.code, frame.message);
        const request = frame.id === undefined ? undefined : this.requests.take(frame.id);
        if (request) request.onError(error);
        // An answer to a request that timed out already is of no use to anyone.
        else if (frame.id === undefined) this.emit('error', error);
        return;
      }
      case 'pub':
        this.channels.get(frame.topic)?.handlePublication({
          topic: frame.topic,
          offset: frame.offset,
          epoch: frame.epoch,
          data: frame.data,
        });
        return;
      case 'gap':
        this.channels.get(frame.topic)?.handleGap({ offset: frame.missed.to, epoch: frame.epoch }, frame.missed);
        return;
      case 'push':
        this.channels.get(frame.topic)?.handlePush(frame.data);
        return;
      case 'member_joined':
      case 'member_left':
        this.channels.get(frame.topic)?.handleMember(frame.type === 'member_joined', frame.member);
        return;
      case 'unknown':
        return;
    }
  }

  private onWelcome(conn: Connection, welcome: WelcomeFrame): void {
    const first = !conn.opened;
    if (conn.openTimer) clearTimeout(conn.openTimer);
    conn.openTimer = null;
    conn.opened = true;
    const resumed = welcome.resumed && this.session !== null && welcome.session === this.session;
    const previous = this.session;
    if (resumed) {
      this.acks.resumed();
    } else {
      this.session = welcome.session;
      this.ownSessions.add(welcome.session);
      this.acks.newSession();
      if (previous !== null) this.sessionLost();
    }
    if (first) {
      this.preferred = conn.name;
      this.backoff.reset();
      this.authRefusals = 0;
      this.watchStall(conn);
    }
    // Re-subscriptions go first, then what was buffered; and nothing before an earlier connection's last POST.
    const start = (): void => {
      if (conn !== this.conn) return;
      conn.ready = true;
      if (!resumed) this.restoreChannels();
      this.flush();
    };
    const barrier = this.barrier;
    if (barrier && !conn.ready) barrier.then(start);
    else start();
    if (first) {
      const info = { transport: conn.name, session: welcome.session, resumed };
      this.setState({ state: 'connected', ...info });
    }
    if (!resumed) this.emit('session', { session: welcome.session, previous });
  }

  /** The server did not resume the session: what was in flight on it is gone. */
  private sessionLost(): void {
    this.requests.sessionLost();
    for (const channel of this.channels.values()) channel.handleSessionLost();
  }

  /** Subscribes and joins again on a new session, each from the last position it saw. */
  private restoreChannels(): void {
    const frames: ClientFrame[] = [];
    for (const channel of this.channels.values()) {
      // A subscribe/join still in the buffer goes out with it.
      if (channel.pendingRequestId !== null) continue;
      frames.push(this.channelRequest(channel));
    }
    this.buffer = frames.concat(this.buffer);
  }

  // ---- state ----

  private setState(change: StateChange): void {
    this.current = change.state;
    this.emit('state', change);
    switch (change.state) {
      case 'connected':
        this.emit('connected', { transport: change.transport, session: change.session, resumed: change.resumed });
        break;
      case 'disconnected':
        this.emit('disconnected', { code: change.code, reason: change.reason });
        break;
      case 'closed': {
        const closed: ClientEvents['closed'] = { code: change.code, reason: change.reason };
        if (change.status !== undefined) closed.status = change.status;
        this.emit('closed', closed);
        break;
      }
      default:
        break;
    }
  }

  /**
   * Closed for good: fail what waits, end the channels, stop every timer. `status` when the server refused the
   * credentials.
   */
  private terminate(code: number, reason: string, byClient: boolean, status?: number): void {
    if (this.current === 'closed') return;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.acks.cancel();
    this.current = 'closed';
    const error =
      status !== undefined
        ? new TidingsError(ClientErrorCode.Closed, `the client closed: ${reason}`, code, status)
        : this.closedError(byClient ? 'the client was closed' : `the server closed the connection: ${code} ${reason}`, code);
    this.buffer = [];
    this.requests.failAll(error);
    const channels = Array.from(this.channels.values());
    this.channels.clear();
    // Closing on purpose ends iterators quietly; the server giving up is an error they throw.
    for (const channel of channels) channel.handleEnded(byClient ? null : error);
    const change: StateChange = { state: 'closed', code, reason };
    if (status !== undefined) change.status = status;
    this.setState(change);
  }
}

/** Creates a client and starts connecting: `connect('https://example.com/realtime')`. */
export function connect(url: string, options: ClientOptions = {}): Client {
  return new Client(url, options);
}
