// Server-Sent Events: frames down an EventSource, frames up with POST /send (docs/protocol.md, "Server-Sent
// Events"). The EventSource is closed at its first error instead of letting it reconnect by itself, so that the
// client decides when to reconnect, with what backoff, and whether to fall back to another transport.

import type { EventSourceLike } from '../env.js';
import { PROTOCOL_VERSION, ProtocolViolation, parseServerFrame, type ClientFrame } from '../protocol.js';
import { sessionUpstream, type HttpUpstream } from './upstream.js';
import {
  ABNORMAL_CLOSURE,
  type Abandoned,
  type ConnectParams,
  type Transport,
  type TransportContext,
} from './transport.js';

const noop = (): void => undefined;

export class SseTransport implements Transport {
  readonly name = 'sse' as const;
  // A browser's EventSource hides the server's `: ping` comments, so silence says nothing here.
  readonly seesHeartbeats = false;
  readonly acksImplicitly = false;
  private source: EventSourceLike | null = null;
  private readonly upstream: HttpUpstream;
  private live = true;

  constructor(private readonly context: TransportContext) {
    const owner = { live: () => this.live, fail: (code: number, reason: string, status?: number) => this.fail(code, reason, status) };
    this.upstream = sessionUpstream(context, owner, 'SSE');
  }

  open(params: ConnectParams): void {
    const EventSourceClass = this.context.EventSource;
    if (!EventSourceClass) throw new Error('no EventSource in this environment');
    // An EventSource cannot send headers: the token goes in the URL where the application allows it, and
    // otherwise the server has to find credentials in a cookie.
    const token = this.context.tokenInQuery ? this.context.token() : undefined;
    const url = this.context.endpoints.url('sse', {
      v: PROTOCOL_VERSION,
      session: params.session,
      ack: params.ack,
      access_token: token,
      // `ping` frames when nothing else is sent: a browser's EventSource hides the `: ping` comments.
      heartbeat: 1,
    });
    const source = new EventSourceClass(url, { withCredentials: this.context.withCredentials });
    this.source = source;
    source.onmessage = (event) => {
      if (!this.live) return;
      let frame;
      try {
        frame = parseServerFrame(event.data);
      } catch (error) {
        return this.fail(1002, error instanceof ProtocolViolation ? error.message : String(error));
      }
      this.context.handlers.activity();
      if (frame.type === 'ping') return;
      if (frame.type === 'close') return this.fail(frame.code, frame.reason);
      if (frame.type === 'welcome') this.upstream.setSession(frame.session);
      this.context.handlers.frame(frame);
    };
    source.onerror = (event) => {
      // Node's `eventsource` says why a request failed (its HTTP status in `code`); browsers do not.
      const detail = event as { code?: unknown; message?: unknown } | null;
      const status = typeof detail?.code === 'number' && detail.code >= 400 ? detail.code : undefined;
      const message = typeof detail?.message === 'string' && detail.message ? `: ${detail.message}` : '';
      this.fail(ABNORMAL_CLOSURE, `event stream lost${message}`, status);
    };
  }

  send(frames: ClientFrame[]): void {
    if (this.live) this.upstream.send(frames);
  }

  sendAck(seq: number): void {
    if (this.live) this.upstream.sendAck(seq);
  }

  async close(): Promise<void> {
    this.live = false;
    // The close frame goes after whatever is still queued, and the stream stays open until it went, so that the
    // server ends the session rather than seeing a lost connection first.
    await this.upstream.finish({ type: 'close' });
    this.release();
  }

  abandon(): Abandoned {
    this.live = false;
    this.release();
    return this.upstream.stop();
  }

  private fail(code: number, reason: string, status?: number): void {
    if (!this.live) return;
    this.live = false;
    // The upstream keeps its queue: the client's abandon() collects the frames that never went.
    this.release();
    this.context.handlers.closed(code, reason, status);
  }

  private release(): void {
    const source = this.source;
    if (!source) return;
    this.source = null;
    source.onmessage = noop;
    source.onerror = noop;
    source.close();
  }
}
