// A joined room: presence kept current from member_joined/member_left, the handler's reply, messages in, and
// publications and pushes out, across reconnections and new sessions.

import { StreamCursor, gapEvent, type Channel, type GapEvent } from './channel.js';
import { ClientErrorCode, TidingsError } from './errors.js';
import { Emitter } from './events.js';
import { AsyncQueue } from './queue.js';
import { toJoinReply, type Member, type Missed, type Position, type Publication, type RequestFrame } from './protocol.js';

export type RoomState = 'joining' | 'joined' | 'left' | 'failed';

export interface JoinedEvent<Reply> {
  position: Position;
  gap: boolean;
  reply: Reply | undefined;
  /** True when this is a re-join on a new session. */
  rejoined: boolean;
}

export interface RoomEvents<T, Meta, Reply> {
  publication: Publication<T>;
  /** A message the room's handler sent to this client only. */
  push: unknown;
  /** Another member joined. */
  join: Member<Meta>;
  /** Another member left (on request, or because their session ended). */
  leave: Member<Meta>;
  /** The member list changed (after every join/leave, and when a re-join replaced it). */
  presence: Member<Meta>[];
  /** Publications were missed and cannot be recovered. */
  gap: GapEvent;
  joined: JoinedEvent<Reply>;
  left: { error: TidingsError | null };
  /** The server refused the re-join on a new session: the room is left. */
  error: TidingsError;
}

export interface JoinOptions {
  /** Recover the room's publications after this position. */
  since?: Position;
}

export interface SendOptions {
  /** ms; defaults to the client's `requestTimeout`. */
  timeout?: number;
}

interface Settle<V> {
  resolve(value: V): void;
  reject(error: TidingsError): void;
}

/** What a room needs from its client. @internal */
export interface RoomHost {
  closeChannel(channel: Channel): Promise<void>;
  message(topic: string, data: unknown, timeout?: number): Promise<unknown>;
  /** Whether `session` is one this client had (its own entry in presence). */
  isOwnSession(session: string): boolean;
}

export class Room<T = unknown, Meta = unknown, Reply = unknown> extends Emitter<RoomEvents<T, Meta, Reply>>
  implements AsyncIterable<Publication<T>>
{
  readonly topic: string;
  /** @internal */
  readonly kind = 'join' as const;
  /** @internal */
  pendingRequestId: number | null = null;
  /** @internal Settles the promise `client.join` returned. */
  readonly joined: Promise<Room<T, Meta, Reply>>;
  private current: RoomState = 'joining';
  private members: Member<Meta>[] = [];
  private handlerReply: Reply | undefined;
  private readonly cursor: StreamCursor;
  private readonly iterators = new Set<AsyncQueue<Publication<T>>>();
  private settle: Settle<Room<T, Meta, Reply>> | null;
  // Events that arrive before the caller of `join` has the room (publications may precede the reply) wait here
  // until it had a chance to add listeners, so that none is lost.
  private held: (() => void)[] | null = [];

  /** @internal */
  constructor(
    private readonly host: RoomHost,
    topic: string,
    private readonly params: unknown,
    options: JoinOptions = {},
  ) {
    super();
    this.topic = topic;
    this.cursor = new StreamCursor(options.since);
    let settle: Settle<Room<T, Meta, Reply>> | null = null;
    this.joined = new Promise<Room<T, Meta, Reply>>((resolve, reject) => {
      settle = { resolve, reject };
    });
    this.settle = settle;
  }

  get state(): RoomState {
    return this.current;
  }

  /** Every member, this client included, in join order. */
  get presence(): Member<Meta>[] {
    return this.members.slice();
  }

  /** What the room's handler answered to the join. */
  get reply(): Reply | undefined {
    return this.handlerReply;
  }

  /** The position of the last publication received, for `since` later. */
  get position(): Position | null {
    return this.cursor.position;
  }

  /** Sends a message to the room's handler; resolves with its reply (undefined when it has none). */
  send<R = unknown>(data: unknown, options: SendOptions = {}): Promise<R> {
    return this.host.message(this.topic, data, options.timeout) as Promise<R>;
  }

  leave(): Promise<void> {
    if (this.current === 'left' || this.current === 'failed') return Promise.resolve();
    return this.host.closeChannel(this);
  }

  /** Publications from now on, until the room is left. */
  [Symbol.asyncIterator](): AsyncIterator<Publication<T>> {
    const queue: AsyncQueue<Publication<T>> = new AsyncQueue(() => this.iterators.delete(queue));
    if (this.current === 'left' || this.current === 'failed') queue.end();
    else this.iterators.add(queue);
    return queue;
  }

  /** @internal */
  openFrame(id: number): RequestFrame {
    if (this.current === 'joined') this.current = 'joining';
    const frame: RequestFrame = { type: 'join', id, topic: this.topic, since: this.cursor.nextSince() };
    if (this.params !== undefined) frame.data = this.params;
    return frame;
  }

  /** @internal */
  handleOpened(data: unknown): void {
    const reply = toJoinReply(data);
    const rejoined = this.settle === null;
    this.cursor.opened(reply.position, reply.gap);
    this.current = 'joined';
    const before = this.members;
    this.members = reply.presence as Member<Meta>[];
    this.handlerReply = reply.reply as Reply | undefined;
    if (this.settle) {
      this.settle.resolve(this);
      this.settle = null;
      // A macrotask runs after every continuation of the promise just resolved: the caller has the room by then.
      setTimeout(() => this.release(), 0);
    } else {
      this.announcePresenceChange(before);
    }
    this.deliver('joined', { position: reply.position, gap: reply.gap, reply: this.handlerReply, rejoined });
    if (reply.gap) {
      this.deliver('gap', gapEvent(this.cursor.requestedSince, reply));
    }
  }

  /** @internal */
  handleRefused(error: TidingsError): void {
    const first = this.settle !== null;
    this.current = 'failed';
    if (first) {
      // The caller gets the refusal from `join`; there is nobody listening to this room yet.
      this.held = null;
      this.settle?.reject(error);
      this.settle = null;
    } else {
      this.deliver('error', error);
    }
    this.finish(error);
  }

  /** @internal */
  handlePublication(publication: Publication): void {
    if (this.current === 'left' || this.current === 'failed') return;
    this.cursor.observe(publication);
    const typed = publication as Publication<T>;
    this.deliver('publication', typed, () => {
      for (const queue of this.iterators) queue.push(typed);
    });
  }

  /** @internal */
  handlePush(data: unknown): void {
    if (this.current !== 'left' && this.current !== 'failed') this.deliver('push', data);
  }

  /** @internal */
  handleGap(position: Position, missed: Missed): void {
    if (this.current === 'left' || this.current === 'failed') return;
    this.deliver('gap', { since: this.cursor.position ?? undefined, position, missed });
  }

  /** @internal */
  handleMember(joined: boolean, member: Member): void {
    if (this.current === 'left' || this.current === 'failed') return;
    const typed = member as Member<Meta>;
    const others = this.members.filter((m) => m.session !== member.session);
    this.members = joined ? others.concat(typed) : others;
    this.deliver(joined ? 'join' : 'leave', typed);
    this.deliver('presence', this.members.slice());
  }

  /** @internal */
  handleSessionLost(): void {
    if (this.current === 'joined') this.current = 'joining';
  }

  /** @internal */
  handleEnded(error: TidingsError | null): void {
    if (this.current === 'left' || this.current === 'failed') return;
    this.current = 'left';
    if (this.settle) {
      this.settle.reject(error ?? new TidingsError(ClientErrorCode.Closed, `left ${this.topic} before joining`));
      this.settle = null;
    }
    this.finish(error);
  }

  /** Tells what a re-join changed: members who came and went while this client's session was being replaced. */
  private announcePresenceChange(before: Member<Meta>[]): void {
    const now = new Set(this.members.map((m) => m.session));
    const was = new Set(before.map((m) => m.session));
    // This client's own entry changes session id with the session: that is nobody joining or leaving.
    const other = (m: Member<Meta>): boolean => !this.host.isOwnSession(m.session);
    for (const member of before) if (!now.has(member.session) && other(member)) this.deliver('leave', member);
    for (const member of this.members) if (!was.has(member.session) && other(member)) this.deliver('join', member);
    this.deliver('presence', this.members.slice());
  }

  private finish(error: TidingsError | null): void {
    for (const queue of this.iterators) queue.end(error ?? undefined);
    this.iterators.clear();
    this.deliver('left', { error });
  }

  private deliver<K extends keyof RoomEvents<T, Meta, Reply>>(
    event: K,
    value: RoomEvents<T, Meta, Reply>[K],
    alsoRun?: () => void,
  ): void {
    const run = (): void => {
      this.emit(event, value);
      alsoRun?.();
    };
    if (this.held) this.held.push(run);
    else run();
  }

  private release(): void {
    const held = this.held;
    this.held = null;
    if (held) for (const run of held) run();
  }
}
