// The client's requests waiting for their answers: ids, timeouts, which session each was sent on, and what becomes
// of them when the session is lost or the client closes. The frames themselves travel through the client's buffer.

import type { Channel } from './channel.js';
import { ClientErrorCode, TidingsError } from './errors.js';
import type { ClientFrame, RequestFrame } from './protocol.js';

export type WithoutId<F> = F extends unknown ? Omit<F, 'id'> : never;

/** @internal */
export interface PendingRequest {
  frame: RequestFrame;
  /** The session the frame was handed to a transport under; null while it waits in the buffer. */
  sentOn: string | null;
  timer: ReturnType<typeof setTimeout> | null;
  /** Set for a subscription's or room's subscribe/join, which a new session sends again instead of failing. */
  channel: Channel | null;
  /** An unsubscribe/leave: a lost session did what it asked. */
  closes: boolean;
  onReply(data: unknown): void;
  onError(error: TidingsError): void;
}

/** @internal */
export class Requests {
  private readonly pending = new Map<number, PendingRequest>();
  private nextId = 1;

  /** `withdraw` takes a request that is still unsent out of the client's buffer. */
  constructor(private readonly withdraw: (id: number) => void) {}

  /** Gives `frame` an id and waits for its answer, for at most `timeout` ms; returns the frame to send. */
  add(
    frame: WithoutId<RequestFrame>,
    timeout: number,
    handlers: Pick<PendingRequest, 'closes' | 'onReply' | 'onError'>,
  ): RequestFrame {
    const id = this.nextId++;
    const full = { ...frame, id } as RequestFrame;
    const request: PendingRequest = { frame: full, sentOn: null, timer: null, channel: null, ...handlers };
    request.timer = setTimeout(() => this.expire(id), timeout);
    this.pending.set(id, request);
    return full;
  }

  /** A subscription's or room's subscribe/join, answered into the channel itself; returns the frame to send. */
  addChannel(channel: Channel, handlers: Pick<PendingRequest, 'onReply' | 'onError'>): RequestFrame {
    const id = this.nextId++;
    const frame = channel.openFrame(id);
    channel.pendingRequestId = id;
    this.pending.set(id, {
      frame,
      sentOn: null,
      // No timeout: the server answers every request of a live session, and a lost session sends it again.
      timer: null,
      channel,
      closes: false,
      onReply: (data) => {
        if (channel.pendingRequestId === id) channel.pendingRequestId = null;
        handlers.onReply(data);
      },
      onError: (error) => {
        if (channel.pendingRequestId === id) channel.pendingRequestId = null;
        handlers.onError(error);
      },
    });
    return frame;
  }

  get(id: number): PendingRequest | undefined {
    return this.pending.get(id);
  }

  /** Forgets a subscribe/join that never left the buffer (it has no timer). */
  forget(id: number): void {
    this.pending.delete(id);
  }

  /** The request that `id` answers, no longer pending; undefined when it timed out already (or never was). */
  take(id: number): PendingRequest | undefined {
    const request = this.pending.get(id);
    if (!request) return undefined;
    this.pending.delete(id);
    if (request.timer) clearTimeout(request.timer);
    return request;
  }

  private expire(id: number): void {
    const request = this.pending.get(id);
    if (!request) return;
    this.pending.delete(id);
    const unsent = request.sentOn === null;
    // A request that never left is withdrawn, so that the failure the caller sees is the whole truth.
    if (unsent) this.withdraw(id);
    const frame = request.frame;
    const what = 'topic' in frame ? `${frame.type} ${frame.topic}` : frame.type;
    request.onError(
      new TidingsError(
        ClientErrorCode.Timeout,
        unsent
          ? `${what}: not sent, no connection in time`
          : `${what}: no answer in time; it may or may not have been carried out`,
      ),
    );
  }

  /** `frames` were handed to a transport under `session`. */
  sent(frames: ClientFrame[], session: string | null): void {
    for (const frame of frames) {
      if ('id' in frame && frame.id !== undefined) {
        const request = this.pending.get(frame.id);
        if (request) request.sentOn = session;
      }
    }
  }

  /** The frame of request `id` is back in the buffer; false when the request is over (its frame is dropped). */
  unsent(id: number): boolean {
    const request = this.pending.get(id);
    if (request) request.sentOn = null;
    return request !== undefined;
  }

  /** The server refused `frames` with HTTP `status`: their requests fail. */
  rejected(frames: ClientFrame[], status: number): void {
    for (const frame of frames) {
      if (!('id' in frame) || frame.id === undefined) continue;
      const request = this.take(frame.id);
      request?.onError(
        new TidingsError(
          ClientErrorCode.Rejected,
          status === 413 ? 'a frame is over the server\'s size limit' : `the server refused the frame (HTTP ${status})`,
        ),
      );
    }
  }

  /** The server did not resume the session: what was in flight on it is gone; what is still buffered is not. */
  sessionLost(): void {
    const lost = new TidingsError(
      ClientErrorCode.SessionLost,
      'the session ended before the server answered; the request may or may not have been carried out',
    );
    for (const [id, request] of Array.from(this.pending)) {
      if (request.sentOn === null) continue; // still buffered: it goes out on the new session
      this.pending.delete(id);
      if (request.timer) clearTimeout(request.timer);
      if (request.channel) {
        // Sent again by the client's restoreChannels.
        if (request.channel.pendingRequestId === id) request.channel.pendingRequestId = null;
      } else if (request.closes) {
        request.onReply(undefined);
      } else {
        request.onError(lost);
      }
    }
  }

  /** The client closed: every request fails with `error`, except subscribes/joins, which their channels end. */
  failAll(error: TidingsError): void {
    const requests = Array.from(this.pending.values());
    this.pending.clear();
    for (const request of requests) {
      if (request.timer) clearTimeout(request.timer);
      if (!request.channel) request.onError(error);
    }
  }
}
