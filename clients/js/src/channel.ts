// What subscriptions and rooms share: the client's view of a topic it receives (a "channel"), and the position
// bookkeeping that lets a new session pick up where the last one left off (docs/protocol.md, "Recovering from
// history").

import type { TidingsError } from './errors.js';
import type { Member, Missed, Position, Publication, RequestFrame } from './protocol.js';

/** Told to a subscription or room when publications were missed and cannot be recovered. */
export interface GapEvent {
  /** The position recovery started from (the last publication seen), if there was one; for a gap the server
   * reports on a resumed session (its client was away too long), the last publication seen before it. */
  since: Position | undefined;
  /** The topic's position when the server answered. */
  position: Position;
  /**
   * The offsets missed, as the server reported them (absent from servers that report none): `from` to `to` of the
   * topic's current epoch, `from` absent when the start is unknown (the topic's history was lost).
   */
  missed?: Missed;
}

/** The gap event of a subscribe or join reply that reports one (`missed` only when the server said which). */
export function gapEvent(since: Position | undefined, reply: { position: Position; missed?: Missed }): GapEvent {
  return reply.missed ? { since, position: reply.position, missed: reply.missed } : { since, position: reply.position };
}

/**
 * How the client drives a subscription or room. Not part of the public API: the client calls these as frames
 * arrive, synchronously and in `seq` order.
 * @internal
 */
export interface Channel {
  readonly topic: string;
  readonly kind: 'subscribe' | 'join';
  /** The id of the subscribe/join request not yet answered, if any. */
  pendingRequestId: number | null;
  /** The subscribe or join frame for the next (re)subscription. */
  openFrame(id: number): RequestFrame;
  handleOpened(data: unknown): void;
  handleRefused(error: TidingsError): void;
  handlePublication(publication: Publication): void;
  handlePush(data: unknown): void;
  /** Publications up to `position` were not sent (`missed` says which): a `gap` frame. */
  handleGap(position: Position, missed: Missed): void;
  handleMember(joined: boolean, member: Member): void;
  /** The session ended: the channel will be opened again on the next one. */
  handleSessionLost(): void;
  /** The client closed, or the channel was left: no more events. */
  handleEnded(error: TidingsError | null): void;
}

/**
 * The last position seen on a topic, which is what a re-subscription asks to recover from.
 * @internal
 */
export class StreamCursor {
  private last: Position | null = null;
  private sent: Position | undefined;
  private seenSinceRequest = false;

  constructor(private readonly initial: Position | undefined) {}

  /** The last publication's position, or where the subscription started when none arrived yet. */
  get position(): Position | null {
    return this.last;
  }

  /** The `since` of the recovery that was last asked for. */
  get requestedSince(): Position | undefined {
    return this.sent;
  }

  /** `since` for the next subscribe/join. */
  nextSince(): Position | undefined {
    this.sent = this.last ?? this.initial;
    this.seenSinceRequest = false;
    return this.sent;
  }

  observe(publication: Publication): void {
    this.last = { offset: publication.offset, epoch: publication.epoch };
    this.seenSinceRequest = true;
  }

  /**
   * Takes the position from the reply unless publications arrived since the request (they may come before the
   * reply, and are then newer). After a gap the old position is worthless: recovery would only report the same gap.
   */
  opened(position: Position, gap: boolean): void {
    if (!this.seenSinceRequest && (this.last === null || gap)) this.last = { ...position };
  }
}
