// The wire format of Tidings protocol version 1 (docs/protocol.md): frame types, and the checks that turn
// untrusted JSON into them.

/** The protocol version this client speaks; sent as `v` on every connect request. */
export const PROTOCOL_VERSION = 1;

/** A position in a topic's stream: the offset of a publication within the topic's epoch. */
export interface Position {
  offset: number;
  epoch: string;
}

/** A member of a room: its session id, the authenticated user when there is one, and its presence metadata. */
export interface Member<Meta = unknown> {
  session: string;
  user?: string;
  meta: Meta;
}

/** A publication delivered to a subscription or room. */
export interface Publication<T = unknown> {
  topic: string;
  offset: number;
  epoch: string;
  data: T;
}

// ---- client frames ----

export type ClientFrame =
  | { type: 'subscribe'; id?: number; topic: string; since?: Position }
  | { type: 'unsubscribe'; id?: number; topic: string }
  | { type: 'join'; id?: number; topic: string; data?: unknown; since?: Position }
  | { type: 'leave'; id?: number; topic: string }
  | { type: 'message'; id?: number; topic: string; data?: unknown }
  | { type: 'publish'; id?: number; topic: string; data: unknown }
  | { type: 'history'; id?: number; topic: string; since?: Position; limit?: number }
  | { type: 'refresh'; id?: number; token: string }
  | { type: 'ack'; seq: number }
  | { type: 'close' };

/** A client frame that asks for an answer (everything but `ack` and `close`). */
export type RequestFrame = Exclude<ClientFrame, { type: 'ack' } | { type: 'close' }>;

// ---- server frames ----

export interface WelcomeFrame {
  type: 'welcome';
  protocol: number;
  session: string;
  resumed: boolean;
  resume_window_ms?: number;
  /** The connection gets a `ping` frame whenever nothing else was sent for this long (it asked with `heartbeat=1`). */
  heartbeat_ms?: number;
}

/** A heartbeat, on connections that asked for them. Not numbered. */
export interface PingFrame {
  type: 'ping';
}

export interface CloseFrame {
  type: 'close';
  code: number;
  reason: string;
}

export interface ReplyFrame {
  type: 'reply';
  seq: number;
  id: number;
  data?: unknown;
}

export interface ErrorFrame {
  type: 'error';
  seq: number;
  id?: number;
  code: string;
  message: string;
}

export interface PubFrame {
  type: 'pub';
  seq: number;
  topic: string;
  offset: number;
  epoch: string;
  data: unknown;
}

/** Publications of a topic the session was not sent (its client was away and its queue full). */
export interface GapFrame {
  type: 'gap';
  seq: number;
  topic: string;
  epoch: string;
  missed: Missed;
}

export interface PushFrame {
  type: 'push';
  seq: number;
  topic: string;
  data: unknown;
}

export interface MemberFrame {
  type: 'member_joined' | 'member_left';
  seq: number;
  topic: string;
  member: Member;
}

/** A frame of a type this version does not know: it still carries a `seq` that must be acknowledged. */
export interface UnknownFrame {
  type: 'unknown';
  seq: number;
  original: string;
}

export type SequencedFrame = ReplyFrame | ErrorFrame | PubFrame | GapFrame | PushFrame | MemberFrame | UnknownFrame;
export type ServerFrame = WelcomeFrame | CloseFrame | PingFrame | SequencedFrame;

/**
 * Publications a client was not sent: offsets `from` to `to` (inclusive) of the topic's current epoch. `from` is
 * absent when the start is unknown (the client's position was in another epoch, or beyond the end of a stream that
 * was rolled back): everything after it in its own epoch was missed too, and `to` may be 0. A range still retained
 * can be read with `history`.
 */
export interface Missed {
  from?: number;
  to: number;
}

/** Reply payloads of the requests that have one (docs/protocol.md, "Client frames"). */
export interface SubscribeReply {
  position: Position;
  gap: boolean;
  missed?: Missed;
}

export interface JoinReply<Meta = unknown, Reply = unknown> {
  presence: Member<Meta>[];
  position: Position;
  gap: boolean;
  missed?: Missed;
  reply?: Reply;
}

export interface HistoryReply {
  publications: { offset: number; epoch: string; data: unknown }[];
  position: Position;
  gap: boolean;
  missed?: Missed;
}

// ---- parsing ----

/** Thrown for a frame that is not valid JSON or lacks what its type requires. */
export class ProtocolViolation extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolViolation';
  }
}

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const isCount = (value: unknown): value is number =>
  typeof value === 'number' && Number.isInteger(value) && value >= 0;

function check(ok: boolean, what: string): asserts ok {
  if (!ok) throw new ProtocolViolation(what);
}

export function isPosition(value: unknown): value is Position {
  return isObject(value) && isCount(value.offset) && typeof value.epoch === 'string';
}

function isMember(value: unknown): value is Member {
  return isObject(value) && typeof value.session === 'string';
}

/**
 * Checks one decoded server frame. Fields a client relies on are validated so that a malformed frame is reported
 * as such instead of surfacing later as an `undefined` deep inside application code.
 */
export function toServerFrame(value: unknown): ServerFrame {
  if (!isObject(value) || typeof value.type !== 'string') {
    throw new ProtocolViolation('a server frame must be a JSON object with a string "type"');
  }
  const type = value.type;
  if (type === 'welcome') {
    const session = value.session;
    check(typeof session === 'string' && session !== '', 'welcome without a session');
    return {
      type,
      protocol: typeof value.protocol === 'number' ? value.protocol : PROTOCOL_VERSION,
      session,
      resumed: value.resumed === true,
      resume_window_ms: typeof value.resume_window_ms === 'number' ? value.resume_window_ms : undefined,
      heartbeat_ms: isCount(value.heartbeat_ms) && value.heartbeat_ms > 0 ? value.heartbeat_ms : undefined,
    };
  }
  if (type === 'ping') return { type };
  if (type === 'close') {
    const code = value.code;
    check(isCount(code), 'close without a numeric code');
    return {
      type,
      code,
      reason: typeof value.reason === 'string' ? value.reason : '',
    };
  }
  // Everything else carries a seq, which must be usable even when the rest of the frame is not.
  const seq = value.seq;
  check(isCount(seq) && seq > 0, `${type} without a seq`);
  const topic = value.topic;
  switch (type) {
    case 'reply': {
      const id = value.id;
      check(isCount(id), 'reply without an id');
      return { type, seq, id, data: value.data };
    }
    case 'error':
      return {
        type,
        seq,
        id: isCount(value.id) ? value.id : undefined,
        code: typeof value.code === 'string' ? value.code : 'internal',
        message: typeof value.message === 'string' ? value.message : '',
      };
    case 'pub': {
      const { offset, epoch } = value;
      check(typeof topic === 'string' && isCount(offset) && typeof epoch === 'string',
        'pub without topic, offset or epoch');
      return { type, seq, topic, offset, epoch, data: value.data === undefined ? null : value.data };
    }
    case 'gap': {
      const missed = toMissed(value.missed);
      check(typeof topic === 'string' && typeof value.epoch === 'string' && missed !== undefined,
        'gap without topic, epoch or missed range');
      return { type, seq, topic, epoch: value.epoch, missed };
    }
    case 'push':
      check(typeof topic === 'string', 'push without a topic');
      return { type, seq, topic, data: value.data === undefined ? null : value.data };
    case 'member_joined':
    case 'member_left': {
      const member = value.member;
      check(typeof topic === 'string' && isMember(member), `${type} without topic or member`);
      return { type, seq, topic, member };
    }
    default:
      // A later protocol version may add frame types; they are skipped but still count in the sequence.
      return { type: 'unknown', seq, original: type };
  }
}

/** Decodes one frame from JSON text. */
export function parseServerFrame(text: string): ServerFrame {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ProtocolViolation('a server frame is not valid JSON');
  }
  return toServerFrame(value);
}

/** Decodes a long-poll response: a JSON array of frames. */
export function parseFrameBatch(text: string): ServerFrame[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ProtocolViolation('a poll response is not valid JSON');
  }
  if (!Array.isArray(value)) throw new ProtocolViolation('a poll response must be a JSON array');
  return value.map(toServerFrame);
}

/** A reply's `missed` range, when it has a well-formed one. */
function toMissed(value: unknown): Missed | undefined {
  if (!isObject(value) || !isCount(value.to)) return undefined;
  return isCount(value.from) ? { from: value.from, to: value.to } : { to: value.to };
}

export function toSubscribeReply(data: unknown): SubscribeReply {
  if (!isObject(data) || !isPosition(data.position)) throw new ProtocolViolation('subscribe reply without a position');
  return { position: data.position, gap: data.gap === true, missed: toMissed(data.missed) };
}

export function toJoinReply(data: unknown): JoinReply {
  if (!isObject(data) || !isPosition(data.position) || !Array.isArray(data.presence)) {
    throw new ProtocolViolation('join reply without presence or position');
  }
  return {
    presence: data.presence.filter(isMember),
    position: data.position,
    gap: data.gap === true,
    missed: toMissed(data.missed),
    reply: data.reply === null ? undefined : data.reply,
  };
}

export function toPosition(data: unknown): Position {
  if (!isObject(data) || !isPosition(data.position)) throw new ProtocolViolation('reply without a position');
  return data.position;
}

/** The new expiry in a `refresh` reply: ms since the epoch, or null when the credentials do not expire. */
export function toRefreshReply(data: unknown): number | null {
  if (!isObject(data) || !('expires_at' in data)) throw new ProtocolViolation('refresh reply without expires_at');
  const expiresAt = data.expires_at;
  if (expiresAt === null) return null;
  if (!isCount(expiresAt)) throw new ProtocolViolation('refresh reply with an expires_at that is not a time');
  return expiresAt;
}

export function toHistoryReply(data: unknown): HistoryReply {
  if (!isObject(data) || !isPosition(data.position) || !Array.isArray(data.publications)) {
    throw new ProtocolViolation('history reply without publications or position');
  }
  const publications = data.publications.filter(
    (entry): entry is { offset: number; epoch: string; data: unknown } =>
      isObject(entry) && isCount(entry.offset) && typeof entry.epoch === 'string',
  );
  return { publications, position: data.position, gap: data.gap === true, missed: toMissed(data.missed) };
}
