// A subscription to one topic: its publications as events or as an async iterator, and its lifecycle across
// reconnections and new sessions.

import { StreamCursor, gapEvent, type Channel, type GapEvent } from './channel.js';
import { ClientErrorCode, TidingsError } from './errors.js';
import { Emitter } from './events.js';
import { AsyncQueue } from './queue.js';
import { toSubscribeReply, type Member, type Missed, type Position, type Publication, type RequestFrame } from './protocol.js';

export type SubscriptionState = 'subscribing' | 'subscribed' | 'unsubscribed' | 'failed';

export interface SubscribedEvent {
  position: Position;
  gap: boolean;
  /** True when this is a re-subscription on a new session (the first one resolves `ready` instead). */
  resubscribed: boolean;
}

export interface SubscriptionEvents<T> {
  publication: Publication<T>;
  /** A message the topic's handler sent to this client only. */
  push: unknown;
  /** Publications were missed and cannot be recovered: reload whatever state derives from the topic. */
  gap: GapEvent;
  subscribed: SubscribedEvent;
  unsubscribed: { error: TidingsError | null };
  /** The server refused the subscription (the first time, or on a new session). */
  error: TidingsError;
}

export interface SubscribeOptions {
  /** Recover the publications after this position (one the application saved earlier). */
  since?: Position;
}

/** What a subscription needs from its client. @internal */
export interface SubscriptionHost {
  closeChannel(channel: Channel): Promise<void>;
}

export class Subscription<T = unknown> extends Emitter<SubscriptionEvents<T>> implements AsyncIterable<Publication<T>> {
  readonly topic: string;
  /** Resolves with the topic's position once the server accepted the subscription; rejects with its refusal. */
  readonly ready: Promise<Position>;
  /** @internal */
  readonly kind = 'subscribe' as const;
  /** @internal */
  pendingRequestId: number | null = null;
  private current: SubscriptionState = 'subscribing';
  private readonly cursor: StreamCursor;
  private readonly iterators = new Set<AsyncQueue<Publication<T>>>();
  private settle: { resolve: (position: Position) => void; reject: (error: TidingsError) => void } | null = null;

  /** @internal */
  constructor(private readonly host: SubscriptionHost, topic: string, options: SubscribeOptions = {}) {
    super();
    this.topic = topic;
    this.cursor = new StreamCursor(options.since);
    this.ready = new Promise((resolve, reject) => {
      this.settle = { resolve, reject };
    });
    // Nobody has to look at `ready`: a refusal is also an 'error' event, and must not be an unhandled rejection.
    this.ready.catch(() => undefined);
  }

  get state(): SubscriptionState {
    return this.current;
  }

  /** The position of the last publication received (or where the subscription started), for `since` later. */
  get position(): Position | null {
    return this.cursor.position;
  }

  /** Stops receiving. Resolves once the server confirmed (at once when it had not been told yet). */
  unsubscribe(): Promise<void> {
    if (this.current === 'unsubscribed' || this.current === 'failed') return Promise.resolve();
    return this.host.closeChannel(this);
  }

  /** Publications from now on, until the subscription ends (an error if it was refused). */
  [Symbol.asyncIterator](): AsyncIterator<Publication<T>> {
    const queue: AsyncQueue<Publication<T>> = new AsyncQueue(() => this.iterators.delete(queue));
    if (this.current === 'unsubscribed' || this.current === 'failed') queue.end();
    else this.iterators.add(queue);
    return queue;
  }

  /** @internal */
  openFrame(id: number): RequestFrame {
    if (this.current !== 'subscribing') this.current = 'subscribing';
    return { type: 'subscribe', id, topic: this.topic, since: this.cursor.nextSince() };
  }

  /** @internal */
  handleOpened(data: unknown): void {
    const reply = toSubscribeReply(data);
    const resubscribed = this.settle === null;
    this.cursor.opened(reply.position, reply.gap);
    this.current = 'subscribed';
    if (this.settle) {
      this.settle.resolve(reply.position);
      this.settle = null;
    }
    this.emit('subscribed', { position: reply.position, gap: reply.gap, resubscribed });
    if (reply.gap) this.emit('gap', gapEvent(this.cursor.requestedSince, reply));
  }

  /** @internal */
  handleRefused(error: TidingsError): void {
    this.current = 'failed';
    this.emit('error', error);
    this.finish(error);
  }

  /** @internal */
  handlePublication(publication: Publication): void {
    if (this.current === 'unsubscribed' || this.current === 'failed') return;
    this.cursor.observe(publication);
    const typed = publication as Publication<T>;
    this.emit('publication', typed);
    for (const queue of this.iterators) queue.push(typed);
  }

  /** @internal */
  handlePush(data: unknown): void {
    if (this.current !== 'unsubscribed' && this.current !== 'failed') this.emit('push', data);
  }

  /** @internal */
  handleGap(position: Position, missed: Missed): void {
    if (this.current === 'unsubscribed' || this.current === 'failed') return;
    this.emit('gap', { since: this.cursor.position ?? undefined, position, missed });
  }

  /** @internal */
  handleMember(_joined: boolean, _member: Member): void {
    // Presence is for rooms; a plain subscription has none.
  }

  /** @internal */
  handleSessionLost(): void {
    if (this.current === 'subscribed') this.current = 'subscribing';
  }

  /** @internal */
  handleEnded(error: TidingsError | null): void {
    if (this.current === 'unsubscribed' || this.current === 'failed') return;
    this.current = 'unsubscribed';
    this.finish(error);
  }

  private finish(error: TidingsError | null): void {
    if (this.settle) {
      this.settle.reject(
        error ?? new TidingsError(ClientErrorCode.Closed, `unsubscribed from ${this.topic} before the server answered`),
      );
      this.settle = null;
    }
    for (const queue of this.iterators) queue.end(error ?? undefined);
    this.iterators.clear();
    this.emit('unsubscribed', { error });
  }
}
