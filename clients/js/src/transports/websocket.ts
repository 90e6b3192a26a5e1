// WebSocket: one text message per frame, both ways (docs/protocol.md, "WebSocket").

import { PROTOCOL_VERSION, ProtocolViolation, parseServerFrame, type ClientFrame } from '../protocol.js';
import type { WebSocketLike } from '../env.js';
import {
  ABNORMAL_CLOSURE,
  type Abandoned,
  type ConnectParams,
  type Transport,
  type TransportContext,
} from './transport.js';

const OPEN = 1;
const noop = (): void => undefined;

/** What Node's `ws` hands an 'unexpected-response' listener: the handshake's HTTP response. */
interface NodeHandshakeResponse {
  statusCode?: number;
  setEncoding?(encoding: string): void;
  on(event: 'data', listener: (chunk: string) => void): unknown;
  on(event: 'end' | 'error' | 'close', listener: () => void): unknown;
}

/**
 * Node's `ws` also speaks EventEmitter, which shows pings (browsers hide them), the response to a refused
 * handshake (browsers report a bare error), and can drop a socket silently.
 */
interface NodeStyleSocket {
  on(event: 'ping', listener: () => void): unknown;
  on(event: 'unexpected-response', listener: (request: unknown, response: NodeHandshakeResponse) => void): unknown;
  terminate(): void;
}

/** The subprotocol this client speaks, offered with the token so that the server selects it (never the token). */
const PROTOCOL = 'tidings.v1';
/** The prefix of the subprotocol that carries a token, for browsers, which cannot set headers on a WebSocket. */
const TOKEN_PROTOCOL_PREFIX = 'tidings.token.';
/** The most of a refusal's body kept for its reason. */
const MAX_REASON = 200;

function isNodeStyle(socket: WebSocketLike): socket is WebSocketLike & NodeStyleSocket {
  const candidate = socket as Partial<NodeStyleSocket>;
  return typeof candidate.on === 'function' && typeof candidate.terminate === 'function';
}

export class WebSocketTransport implements Transport {
  readonly name = 'websocket' as const;
  readonly acksImplicitly = false;
  seesHeartbeats = false;
  private socket: WebSocketLike | null = null;
  private live = true;
  private closing: (() => void) | null = null;

  constructor(private readonly context: TransportContext) {}

  open(params: ConnectParams): void {
    const WebSocketClass = this.context.WebSocket;
    if (!WebSocketClass) throw new Error('no WebSocket in this environment');
    // heartbeat=1: `ping` frames when nothing else is sent, which a browser sees (it hides WebSocket pings), so that
    // a proxy holding the stream shows as silence.
    const url = this.context.endpoints.url('ws', {
      v: PROTOCOL_VERSION,
      session: params.session,
      ack: params.ack,
      heartbeat: 1,
    });
    const token = this.context.token();
    const socket =
      token === undefined ? new WebSocketClass(url) : new WebSocketClass(url, [PROTOCOL, TOKEN_PROTOCOL_PREFIX + token]);
    this.socket = socket;
    if (isNodeStyle(socket)) {
      this.seesHeartbeats = true;
      socket.on('ping', () => {
        if (this.live) this.context.handlers.activity();
      });
      // A refused handshake (401, 403, 429...): its status and reason, which browsers never show.
      socket.on('unexpected-response', (_request, response) => this.refused(response));
    }
    socket.onmessage = (event) => {
      if (!this.live) return;
      // Version 1 is text only; the server never sends binary messages.
      if (typeof event.data !== 'string') return this.fail(1003, 'binary message from the server');
      let frame;
      try {
        frame = parseServerFrame(event.data);
      } catch (error) {
        return this.fail(1002, error instanceof ProtocolViolation ? error.message : String(error));
      }
      this.context.handlers.activity();
      if (frame.type === 'ping') return;
      if (frame.type === 'close') return this.fail(frame.code, frame.reason);
      this.context.handlers.frame(frame);
    };
    socket.onclose = (event) => {
      this.closing?.();
      if (!this.live) return;
      this.live = false;
      this.context.handlers.closed(event.code || ABNORMAL_CLOSURE, event.reason || 'connection closed');
    };
    // Browsers follow an error with a close event; reporting here too covers environments that do not.
    socket.onerror = () => {
      if (!this.live) return;
      this.live = false;
      this.context.handlers.closed(ABNORMAL_CLOSURE, 'connection failed');
      this.drop();
    };
  }

  send(frames: ClientFrame[]): void {
    const socket = this.socket;
    // The client sends only on an open connection; a socket that is closing loses the frame, which the protocol
    // allows (what a client sends is at most once) and the request's timeout reports.
    if (!socket || socket.readyState !== OPEN) return;
    for (const frame of frames) socket.send(JSON.stringify(frame));
  }

  sendAck(seq: number): void {
    this.send([{ type: 'ack', seq }]);
  }

  close(): Promise<void> {
    this.live = false;
    const socket = this.socket;
    if (!socket) return Promise.resolve();
    return new Promise((resolve) => {
      // The server answers a close frame with the same code and ends the session; wait for that, but not forever.
      const timer = setTimeout(done, this.context.requestTimeout);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.closing = done;
      try {
        socket.close(1000, 'client closed');
      } catch {
        done();
      }
    });
  }

  abandon(): Abandoned {
    this.live = false;
    this.drop();
    return { unsent: [], settled: Promise.resolve() };
  }

  private fail(code: number, reason: string, status?: number): void {
    if (!this.live) return;
    this.live = false;
    this.drop();
    this.context.handlers.closed(code, reason, status);
  }

  /** Reads (the start of) a refused handshake's body for the reason, then ends the connection with its status. */
  private refused(response: NodeHandshakeResponse): void {
    const status = response.statusCode ?? 0;
    let body = '';
    const done = (): void => {
      const reason = `handshake answered ${status}${body ? `: ${body.trim().slice(0, MAX_REASON)}` : ''}`;
      this.fail(ABNORMAL_CLOSURE, reason, status);
    };
    response.setEncoding?.('utf8');
    response.on('data', (chunk) => {
      if (body.length < MAX_REASON) body += chunk;
    });
    response.on('end', done);
    response.on('error', done);
    response.on('close', done);
  }

  /**
   * Lets go of the socket. Handlers become no-ops rather than null: Node's `ws` throws an 'error' event that has
   * no listener. Where the socket can be dropped without a close frame (`ws`'s terminate), it is, because a close
   * frame from the client ends the session that the next connection should resume.
   */
  private drop(): void {
    const socket = this.socket;
    if (!socket) return;
    socket.onopen = noop;
    socket.onmessage = noop;
    socket.onerror = noop;
    socket.onclose = () => this.closing?.();
    try {
      if (isNodeStyle(socket)) socket.terminate();
      else socket.close();
    } catch {
      // Already closed, or closing: nothing left to do.
    }
  }
}
