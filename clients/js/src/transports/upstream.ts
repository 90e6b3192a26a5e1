// Client frames over HTTP, for the SSE and long-polling transports: `POST /send?session=ID` with a JSON array of
// every frame queued meanwhile. One request at a time, so that the session receives frames in the order they were
// sent; batching keeps that from costing a round trip per frame.

import type { HttpClient } from '../http.js';
import type { ClientFrame } from '../protocol.js';
import type { Endpoints } from '../url.js';
import { ABNORMAL_CLOSURE, type TransportContext } from './transport.js';

/** The close code of a session closed for a frame over the server's size limit. */
const MESSAGE_TOO_BIG = 1009;

/** A batch stays under this much JSON text, in UTF-16 units (a single larger frame still goes, alone)... */
const BATCH_CHARS = 64 * 1024;
/** ...and this many frames. */
const BATCH_FRAMES = 256;

export interface UpstreamEvents {
  /** The session is gone (404): these frames, and all queued after them, never reached it. */
  gone(frames: ClientFrame[]): void;
  /** The server refused a batch before handling it (400 malformed, 413 too large). */
  rejected(frames: ClientFrame[], status: number): void;
  /**
   * The connection is over: `code` 1009 after a 413 (the server closed the session for a frame over its size
   * limit), or lost (network, 5xx, or 401/403 with `status`: the credentials no longer check out), in which case
   * the batch may or may not have arrived.
   */
  failed(code: number, reason: string, status?: number): void;
}

export class HttpUpstream {
  private queue: { frame: ClientFrame; text: string }[] = [];
  private session: string | null = null;
  private inFlight: Promise<void> | null = null;
  private stopped = false;

  constructor(
    private readonly http: HttpClient,
    private readonly endpoints: Endpoints,
    private readonly timeout: number,
    private readonly events: UpstreamEvents,
    private readonly token: () => string | undefined = () => undefined,
  ) {}

  /** Frames queue until the session is known (from `welcome`). */
  setSession(session: string): void {
    this.session = session;
    this.pump();
  }

  send(frames: ClientFrame[]): void {
    for (const frame of frames) this.queue.push({ frame, text: JSON.stringify(frame) });
    this.pump();
  }

  /** Acks are cumulative, so a newer one replaces one still waiting to go. */
  sendAck(seq: number): void {
    const last = this.queue[this.queue.length - 1];
    if (last && last.frame.type === 'ack') {
      last.frame = { type: 'ack', seq };
      last.text = JSON.stringify(last.frame);
    } else {
      this.send([{ type: 'ack', seq }]);
    }
  }

  /** Sends `frame` after everything queued, then stops; resolves once that request is done. */
  async finish(frame: ClientFrame): Promise<void> {
    this.send([frame]);
    while (!this.stopped && (this.inFlight || this.queue.length > 0)) {
      if (this.inFlight) await this.inFlight;
      else if (this.session === null) break;
      else this.pump();
    }
    this.stopped = true;
  }

  /** Stops sending; hands back what was not sent yet (acks aside: the next connection acknowledges anyway). */
  stop(): { unsent: ClientFrame[]; settled: Promise<void> } {
    this.stopped = true;
    const unsent = this.queue.map((entry) => entry.frame).filter((frame) => frame.type !== 'ack');
    this.queue = [];
    return { unsent, settled: this.inFlight ?? Promise.resolve() };
  }

  private pump(): void {
    if (this.stopped || this.inFlight || this.session === null || this.queue.length === 0) return;
    let bytes = 0;
    let count = 0;
    while (count < this.queue.length && count < BATCH_FRAMES) {
      const size = this.queue[count].text.length + 1;
      if (count > 0 && bytes + size > BATCH_CHARS) break;
      bytes += size;
      count++;
    }
    const batch = this.queue.splice(0, count);
    const frames = batch.map((entry) => entry.frame);
    const body = `[${batch.map((entry) => entry.text).join(',')}]`;
    const url = this.endpoints.url('send', { session: this.session });
    const request = this.http({ method: 'POST', url, body, timeout: this.timeout, token: this.token() });
    this.inFlight = request.response.then(
      (response) => {
        this.inFlight = null;
        if (this.stopped) return;
        if (response.status >= 200 && response.status < 300) {
          this.pump();
        } else if (response.status === 404) {
          const rest = this.queue.map((entry) => entry.frame);
          this.queue = [];
          this.stopped = true;
          this.events.gone(frames.concat(rest).filter((frame) => frame.type !== 'ack'));
        } else if (response.status === 400) {
          this.events.rejected(frames, response.status);
          this.pump();
        } else if (response.status === 413) {
          // The server closed the session with 1009 as well; its close frame may never come down (a long-polling
          // client has no poll held at every moment), so this answer is taken as that close.
          this.stopped = true;
          this.events.rejected(frames, response.status);
          this.events.failed(MESSAGE_TOO_BIG, response.body || 'a frame is over the size limit');
        } else {
          this.stopped = true;
          const reason = `POST /send answered ${response.status}${response.body ? `: ${response.body.slice(0, 200)}` : ''}`;
          this.events.failed(ABNORMAL_CLOSURE, reason, response.status);
        }
      },
      (error: unknown) => {
        this.inFlight = null;
        if (this.stopped) return;
        this.stopped = true;
        this.events.failed(ABNORMAL_CLOSURE, error instanceof Error ? error.message : String(error));
      },
    );
  }
}

/** What a transport that sends through an [[HttpUpstream]] tells it about itself. */
export interface UpstreamOwner {
  /** Whether the transport still carries the session (events of an abandoned one are ignored). */
  live(): boolean;
  /** Ends the transport's connection. */
  fail(code: number, reason: string, status?: number): void;
}

/**
 * The upstream of an HTTP transport (SSE, long polling), wired to the client the same way for both: frames the
 * server no longer has a session for go back to the client and the connection ends; refusals are reported.
 */
export function sessionUpstream(context: TransportContext, owner: UpstreamOwner, needs: string): HttpUpstream {
  const http = context.http;
  if (!http) throw new Error(`${needs} needs XMLHttpRequest or fetch`);
  return new HttpUpstream(
    http,
    context.endpoints,
    context.requestTimeout,
    {
      gone: (frames) => {
        if (!owner.live()) return;
        context.handlers.undelivered(frames);
        owner.fail(ABNORMAL_CLOSURE, 'the server no longer has this session');
      },
      rejected: (frames, status) => {
        if (owner.live()) context.handlers.rejected(frames, status);
      },
      failed: (code, reason, status) => owner.fail(code, reason, status),
    },
    context.token,
  );
}
