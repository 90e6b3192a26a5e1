// The client: one session with a Tidings server, kept alive across connections and transports. It owns the
// connection lifecycle (fallback, backoff, resume), exactly-once processing by `seq`, acknowledgements, requests
// and their answers, and the subscriptions and rooms it restores on a new session. The bookkeeping of pending
// requests is in requests.ts, of acknowledgements in acks.ts; the public types are in client-types.ts.

import { Acks } from './acks.js';
import type { Channel } from './channel.js';
import type {
  ClientEvents,
  ClientState,
  HistoryOptions,
  HistoryPage,
  RequestOptions,
  StateChange,
} from './client-types.js';
import { Connector, type Arrival, type Connection } from './connector.js';
import { resolveHostApi } from './env.js';
import { ClientErrorCode, TidingsError } from './errors.js';
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
import { ABNORMAL_CLOSURE, type TransportContext, type TransportName } from './transports/transport.js';
import { Endpoints } from './url.js';

export class Client extends Emitter<ClientEvents> {
  private readonly options: ResolvedOptions;
  private readonly endpoints: Endpoints;
  private readonly hostApis: Pick<TransportContext, 'WebSocket' | 'EventSource' | 'http'>;
  private readonly available: TransportName[];
  private readonly connector: Connector;
  private current: ClientState = 'idle';
  private session: string | null = null;
  private readonly ownSessions = new Set<string>();
  private readonly acks: Acks;
  /** Frames waiting for a connection, in the order they must reach the session. */
  private buffer: ClientFrame[] = [];
  private readonly requests = new Requests((id) => this.removeFromBuffer(id));
  private readonly channels = new Map<string, Channel>();
  /** The token requests carry: the one obtained for the last connect attempt, or accepted by a refresh since. */
  private token: string | undefined;

  constructor(url: string, options: ClientOptions = {}) {
    super();
    this.endpoints = new Endpoints(url);
    this.options = resolveOptions(options);
    this.token = typeof this.options.token === 'string' ? this.options.token : undefined;
    this.acks = new Acks(this.options, () => this.connector.conn);
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
    this.connector = new Connector(this.connectorHost());
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
    const conn = this.connector.conn;
    return conn && conn.opened ? conn.name : null;
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
      if (this.current === 'connecting') this.connector.start();
    });
    return this;
  }

  /** Resolves once connected (at once if already), rejects if the client closes first. */
  ready(): Promise<void> {
    if (this.transport !== null) return Promise.resolve();
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
    const told = this.connector.stop();
    this.terminate(1000, 'client closed', true);
    return told;
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
    const conn = this.connector.conn;
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

  // ---- incoming frames ----

  /** A frame (not `welcome`) of the connection that carries the session. */
  private onFrame(conn: Connection, frame: ServerFrame): void {
    if (frame.type === 'welcome' || frame.type === 'close' || frame.type === 'ping') return; // the connector and transports see to those
    // A resumed connection replays from our ack; anything at or below what we processed was handled already.
    if (frame.seq <= this.acks.processed) return;
    if (frame.seq !== this.acks.processed + 1) {
      const message = `frame ${frame.seq} arrived after ${this.acks.processed}: reconnecting to resume from the gap`;
      this.emit('error', new TidingsError(ClientErrorCode.BadResponse, message));
      return this.connector.lose(conn, ABNORMAL_CLOSURE, message);
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

  /** `welcome` made `conn` the session's connection (see {@link Arrival}); returns whether it resumed. */
  private onWelcome(conn: Connection, welcome: WelcomeFrame, arrival: Arrival, previous: TransportName | null): boolean {
    const resumed = welcome.resumed && this.session !== null && welcome.session === this.session;
    const previousSession = this.session;
    if (resumed) {
      this.acks.resumed();
    } else {
      this.session = welcome.session;
      this.ownSessions.add(welcome.session);
      this.acks.newSession();
      if (previousSession !== null) this.sessionLost();
    }
    if (arrival === 'opened') {
      const info = { transport: conn.name, session: welcome.session, resumed };
      this.setState({ state: 'connected', ...info });
    } else if (arrival === 'switched' && previous !== null && previous !== conn.name) {
      this.emit('transport', { transport: conn.name, previous, session: welcome.session, resumed });
    }
    if (!resumed) this.emit('session', { session: welcome.session, previous: previousSession });
    return resumed;
  }

  /** Re-subscriptions go first, then what was buffered. */
  private onReady(resumed: boolean): void {
    if (!resumed) this.restoreChannels();
    this.flush();
  }

  /** What the connector needs of this client. */
  private connectorHost(): ConstructorParameters<typeof Connector>[0] {
    let previous: TransportName | null = null;
    return {
      options: this.options,
      available: this.available,
      endpoint: this.endpoints.href,
      context: (handlers) => ({
        endpoints: this.endpoints,
        processed: () => this.acks.processed,
        requestTimeout: this.options.requestTimeout,
        stallTimeout: this.options.stallTimeout,
        withCredentials: this.options.withCredentials,
        token: () => this.token,
        tokenInQuery: this.options.tokenInQuery,
        ...this.hostApis,
        handlers,
      }),
      state: () => this.current,
      setState: (change) => this.setState(change),
      session: () => this.session,
      processed: () => this.acks.processed,
      freshToken: () => this.freshToken(),
      welcome: (conn, welcome, arrival) => {
        const resumed = this.onWelcome(conn, welcome, arrival, previous);
        previous = conn.name;
        return resumed;
      },
      frame: (frame) => {
        const conn = this.connector.conn;
        if (conn) this.onFrame(conn, frame);
      },
      ready: (resumed) => this.onReady(resumed),
      detached: () => this.acks.cancel(),
      requeue: (frames) => this.requeue(frames),
      rejected: (frames, status) => this.requests.rejected(frames, status),
      terminate: (code, reason, byClient, status) => this.terminate(code, reason, byClient, status),
      emit: (event, payload) => this.emit(event, payload),
    };
  }

  /** A fresh token for every attempt: a reconnect after the credentials expired must not send the old one. */
  private freshToken(): Promise<void> | null {
    const tokenFn = this.options.token;
    if (typeof tokenFn !== 'function') return null;
    return Promise.resolve()
      .then(() => tokenFn())
      .then((token) => {
        if (typeof token !== 'string' || token === '') {
          throw new TypeError(`the token function returned ${token === '' ? 'an empty string' : typeof token}`);
        }
        this.token = token;
      });
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
    void this.connector.stop();
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
