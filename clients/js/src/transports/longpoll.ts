// HTTP long polling: sequential GET /poll requests, each acknowledging what was processed and answered with the
// frames after it; frames up with POST /send (docs/protocol.md, "Long polling"). Works with nothing but
// XMLHttpRequest (or fetch).

import { HttpError, type PendingHttp } from '../http.js';
import {
  PROTOCOL_VERSION,
  ProtocolViolation,
  parseFrameBatch,
  type ClientFrame,
  type ServerFrame,
} from '../protocol.js';
import { sessionUpstream, type HttpUpstream } from './upstream.js';
import {
  ABNORMAL_CLOSURE,
  type Abandoned,
  type ConnectParams,
  type Transport,
  type TransportContext,
} from './transport.js';

export class LongPollTransport implements Transport {
  readonly name = 'longpoll' as const;
  // Every poll is answered within the server's hold time (25 s), with `[]` at worst: silence means a dead link.
  readonly seesHeartbeats = true;
  readonly acksImplicitly = true;
  private upstream: HttpUpstream;
  private session: string | null = null;
  private poll: PendingHttp | null = null;
  private live = true;
  private polls = 0;
  // Makes every poll URL unique, so that no cache between here and the server can answer one.
  private readonly cacheKey = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;

  constructor(private readonly context: TransportContext) {
    this.upstream = this.createUpstream();
  }

  private createUpstream(): HttpUpstream {
    const owner = { live: () => this.live, fail: (code: number, reason: string, status?: number) => this.fail(code, reason, status) };
    return sessionUpstream(this.context, owner, 'long polling');
  }

  open(params: ConnectParams): void {
    if (params.session === undefined) {
      // A poll without a session starts one and is answered at once with [welcome].
      this.request({ v: PROTOCOL_VERSION });
      return;
    }
    // A poll that names a live session is just the next poll: no welcome, and no answer until there is a frame
    // (up to the hold time). So the session is probed first with an ack of what was processed, a frame that is
    // never answered: 204 means it lives on and this connection resumes it; 404 that it is gone.
    const session = params.session;
    const ack = params.ack ?? 0;
    const probe = this.context.http!({
      method: 'POST',
      url: this.context.endpoints.url('send', { session }),
      body: JSON.stringify([{ type: 'ack', seq: ack }]),
      timeout: this.context.requestTimeout,
      token: this.context.token(),
    });
    this.poll = probe;
    probe.response.then(
      (response) => {
        if (!this.live || this.poll !== probe) return;
        this.poll = null;
        this.context.handlers.activity();
        if (response.status >= 200 && response.status < 300) {
          this.session = session;
          this.upstream.setSession(session);
          this.context.handlers.frame({ type: 'welcome', protocol: PROTOCOL_VERSION, session, resumed: true });
          if (this.live) this.request({ session, ack: this.context.processed() });
        } else if (response.status === 404) {
          this.request({ v: PROTOCOL_VERSION });
        } else {
          this.fail(ABNORMAL_CLOSURE, `send answered ${response.status}: ${response.body.slice(0, 200)}`, response.status);
        }
      },
      (error: unknown) => {
        if (!this.live || this.poll !== probe) return;
        this.poll = null;
        this.fail(ABNORMAL_CLOSURE, error instanceof HttpError ? error.message : String(error));
      },
    );
  }

  send(frames: ClientFrame[]): void {
    if (this.live) this.upstream.send(frames);
  }

  sendAck(): void {
    // Every poll carries `ack`.
  }

  async close(): Promise<void> {
    this.live = false;
    this.poll?.abort();
    this.poll = null;
    await this.upstream.finish({ type: 'close' });
  }

  abandon(): Abandoned {
    this.live = false;
    this.poll?.abort();
    this.poll = null;
    return this.upstream.stop();
  }

  private request(params: Record<string, string | number | undefined>): void {
    const url = this.context.endpoints.url('poll', { ...params, t: `${this.cacheKey}${(this.polls++).toString(36)}` });
    // A held poll answers within the hold time; the connect poll answers at once.
    const timeout = this.session === null ? this.context.requestTimeout : this.context.stallTimeout;
    const poll = this.context.http!({ method: 'GET', url, timeout, token: this.context.token() });
    this.poll = poll;
    poll.response.then(
      (response) => {
        if (!this.live || this.poll !== poll) return;
        this.poll = null;
        if (response.status !== 200) {
          const reason = `poll answered ${response.status}: ${response.body.slice(0, 200)}`;
          return this.fail(ABNORMAL_CLOSURE, reason, response.status);
        }
        let frames: ServerFrame[];
        try {
          frames = parseFrameBatch(response.body);
        } catch (error) {
          return this.fail(1002, error instanceof ProtocolViolation ? error.message : String(error));
        }
        this.context.handlers.activity();
        if (this.session === null) {
          const first = frames[0];
          if (!first || first.type !== 'welcome') {
            return this.fail(1002, 'the first poll was not answered with a welcome');
          }
          this.session = first.session;
          this.upstream.setSession(this.session);
        }
        for (const frame of frames) {
          if (!this.live) return;
          if (frame.type === 'close') return this.fail(frame.code, frame.reason);
          if (frame.type === 'welcome' && frame.session !== this.session) this.switchSession(frame.session);
          this.context.handlers.frame(frame);
        }
        // Processing was synchronous, so the next poll acknowledges everything this one brought. `next=1`: it
        // continues this connection, so that it never takes the session back from a transport the client moved
        // it to meanwhile (the server answers it with close 4500 instead).
        if (this.live) this.request({ session: this.session, ack: this.context.processed(), next: 1 });
      },
      (error: unknown) => {
        if (!this.live || this.poll !== poll) return;
        this.poll = null;
        const reason = error instanceof HttpError ? error.message : String(error);
        this.fail(ABNORMAL_CLOSURE, reason);
      },
    );
  }

  /**
   * A poll naming a session the server no longer has is answered with a new session's welcome. Frames still
   * queued for the old one never reached it: they go back to the client, which sends them on the new session.
   */
  private switchSession(session: string): void {
    const { unsent } = this.upstream.stop();
    this.session = session;
    this.upstream = this.createUpstream();
    this.upstream.setSession(session);
    if (unsent.length > 0) this.context.handlers.undelivered(unsent);
  }

  private fail(code: number, reason: string, status?: number): void {
    if (!this.live) return;
    this.live = false;
    this.poll?.abort();
    this.poll = null;
    this.context.handlers.closed(code, reason, status);
  }
}
