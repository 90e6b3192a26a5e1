// How the client reaches the server, and keeps its session on the best transport that flows (docs/transports.md,
// "How a client chooses"):
// - Connecting is a race, like "happy eyeballs": the first transport starts, and each `raceDelay` ms without a
//   welcome the next one starts beside it; a transport that fails starts the next at once. The first to deliver a
//   welcome wins. A transport counts as open only then: an SSE response whose events a proxy buffers is not.
// - The winner is remembered (transport-memory.ts) and goes first next time.
// - A client on a lesser transport probes the better ones now and then, with backoff, and moves its session onto
//   one that opens: the server hands the session over (the older connection is closed with 4500), and numbered
//   frames make the move lose and double nothing.
// - The other attempts are not cut short, since one may be mid-handshake: each is closed when its welcome comes
//   (ending the session it started), taken on if it resumed the session (the server moved the session to it), or
//   dropped at `openTimeout`.

import { Backoff } from './backoff.js';
import type { ClientEvents, ClientState, StateChange } from './client-types.js';
import { CloseCode, shouldReconnect } from './close-codes.js';
import { ClientErrorCode, MAX_AUTH_REFUSALS, TidingsError } from './errors.js';
import type { ResolvedOptions } from './options.js';
import type { ClientFrame, ServerFrame, WelcomeFrame } from './protocol.js';
import { TransportMemory } from './transport-memory.js';
import { LongPollTransport } from './transports/longpoll.js';
import { SseTransport } from './transports/sse.js';
import {
  ABNORMAL_CLOSURE,
  type Transport,
  type TransportContext,
  type TransportHandlers,
  type TransportName,
} from './transports/transport.js';
import { WebSocketTransport } from './transports/websocket.js';

/** How long a session handed over to a new connection of this client may wait for that connection's welcome. */
const HANDOVER_GRACE_MS = 1_000;
/**
 * How long a connection that took the session over while another carried it (an upgrade probe, a race's late
 * attempt) is watched before the session moves to it: a proxy that buffered its stream releases the welcome
 * together with the end of the stream, and moving to a connection that is over already would bounce the session.
 */
const LATE_SETTLE_MS = 100;
/**
 * A transport whose stream stalled (it opened, and then its heartbeats stopped: a proxy holds it) goes last in the
 * races, and is not probed, for this long.
 */
const DEMOTED_FOR_MS = 5 * 60 * 1000;

/** One connection attempt, and then (once its welcome came) possibly the connection that carries the session. */
export interface Connection {
  readonly name: TransportName;
  readonly transport: Transport;
  /** Started to connect (a race), or to move an open session onto a better transport. */
  readonly purpose: 'connect' | 'upgrade';
  /** The session it resumes; null when it starts one. */
  readonly resumes: string | null;
  /** The race it belongs to. */
  readonly race: number;
  /** Creation order: tells whether an attempt of this client came after a connection (and may have taken it over). */
  readonly serial: number;
  /** `welcome` arrived. */
  opened: boolean;
  /** Frames may be sent (after an earlier connection's last HTTP request settled). */
  ready: boolean;
  openTimer: ReturnType<typeof setTimeout> | null;
  stallTimer: ReturnType<typeof setTimeout> | null;
  lastActivity: number;
}

/** How a welcome made its connection the session's. */
export type Arrival = 'opened' | 'again' | 'switched';

/** What the connector needs from the client. */
export interface ConnectorHost {
  readonly options: ResolvedOptions;
  /** The transports this environment can run, in the order of preference. */
  readonly available: TransportName[];
  /** The key transports are remembered under (the endpoint). */
  readonly endpoint: string;
  context(handlers: TransportHandlers): TransportContext;
  state(): ClientState;
  setState(change: StateChange): void;
  session(): string | null;
  processed(): number;
  /** Asks the token function for a fresh token (null when there is none to ask). */
  freshToken(): Promise<void> | null;
  /**
   * `welcome` on the connection that now carries the session: 'opened' after none did, 'again' on the same one (a
   * long poll whose session was gone), 'switched' when it took over from another. Returns whether it resumed.
   */
  welcome(conn: Connection, welcome: WelcomeFrame, arrival: Arrival): boolean;
  /** A frame other than `welcome` on the connection that carries the session. */
  frame(frame: ServerFrame): void;
  /** The connection that carries the session may send now. */
  ready(resumed: boolean): void;
  /** No connection carries the session any more. */
  detached(): void;
  requeue(frames: ClientFrame[]): void;
  rejected(frames: ClientFrame[], status: number): void;
  terminate(code: number, reason: string, byClient: boolean, status?: number): void;
  emit<K extends keyof ClientEvents>(event: K, payload: ClientEvents[K]): void;
}

interface Race {
  readonly id: number;
  readonly order: TransportName[];
  next: number;
  timer: ReturnType<typeof setTimeout> | null;
  /** The session is handed over quietly (the application already saw it connected): no 'connecting' states. */
  readonly quiet: boolean;
  /** The HTTP status of the last refusal of the credentials. */
  refusedWith?: number;
}

const now = (): number => Date.now();

export class Connector {
  /** The connection that carries the session, once its welcome came. */
  conn: Connection | null = null;
  private readonly attempts = new Set<Connection>();
  private race: Race | null = null;
  private races = 0;
  private serials = 0;
  /** The serial of this client's latest attempt that resumed a session. */
  private lastResumeSerial = 0;
  /** The session went to a newer connection of this client, whose welcome is awaited. */
  private handover: { previous: TransportName; timer: ReturnType<typeof setTimeout> } | null = null;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly backoff: Backoff;
  private readonly memory: TransportMemory;
  private upgradeTimer: ReturnType<typeof setTimeout> | null = null;
  /** Failed upgrade rounds since the last success: the next round waits twice as long. */
  private upgradeFailures = 0;
  /** The better transports still to probe in this round. */
  private upgradeQueue: TransportName[] = [];
  /** An abandoned connection's HTTP request still on the wire: later frames wait for it, to keep their order. */
  private barrier: Promise<void> | null = null;
  /** Connect attempts refused with 401 or 403 since a connection last opened. */
  private authRefusals = 0;
  /** Transports whose stream stalled, until when they go last. */
  private readonly demoted = new Map<TransportName, number>();
  /** Until then, a 4500 may come from a connection this client walked away from, whose request was on the wire. */
  private rivalUntil = 0;
  /** Late attempts of a race being watched before the session moves to them, with the frames they brought. */
  private readonly settling = new Map<Connection, { timer: ReturnType<typeof setTimeout>; frames: ServerFrame[] }>();
  private stopped = false;

  constructor(private readonly host: ConnectorHost) {
    this.backoff = new Backoff(host.options.backoff);
    this.memory = new TransportMemory(host.endpoint, host.options.rememberTransport);
  }

  /** The backoff attempt of the moment (for state changes). */
  get attempt(): number {
    return this.backoff.attempt;
  }

  /** Starts the first race. */
  start(): void {
    if (this.conn === null && this.race === null && !this.stopped) this.startRace(false);
  }

  /** Ends the connection that carries the session from the client's side (a frame out of order, say). */
  lose(conn: Connection, code: number, reason: string): void {
    this.ended(conn, code, reason);
  }

  /**
   * Stops everything: timers, attempts, and the connection, which is told the client is done. Resolves once the
   * server was told (bounded by the request timeout).
   */
  stop(): Promise<void> {
    this.stopped = true;
    this.clearTimers();
    for (const attempt of Array.from(this.attempts)) this.release(attempt);
    for (const [late, { timer }] of this.settling) {
      clearTimeout(timer);
      late.transport.abandon();
    }
    this.settling.clear();
    const conn = this.conn;
    this.conn = null;
    if (!conn) return Promise.resolve();
    this.clearConnectionTimers(conn);
    if (conn.opened) return conn.transport.close().catch(() => undefined);
    conn.transport.abandon();
    return Promise.resolve();
  }

  // ---- the race ----

  private startRace(quiet: boolean): void {
    if (this.race?.timer) clearTimeout(this.race.timer);
    const remembered = this.memory.recall();
    const available = this.host.available;
    const preferred =
      remembered && available.includes(remembered)
        ? [remembered].concat(available.filter((name) => name !== remembered))
        : available.slice();
    // Transports that stalled lately go last.
    const order = preferred.filter((name) => !this.isDemoted(name)).concat(preferred.filter((name) => this.isDemoted(name)));
    this.race = { id: ++this.races, order, next: 0, timer: null, quiet };
    this.launchNext();
  }

  /** Starts the race's next transport, and arms the timer that starts the one after it. */
  private launchNext(): void {
    const race = this.race;
    if (!race || this.stopped) return;
    if (race.timer) clearTimeout(race.timer);
    race.timer = null;
    while (race.next < race.order.length) {
      const name = race.order[race.next++];
      if (!this.launch(name, 'connect', race)) continue;
      if (this.race === race && race.next < race.order.length) {
        race.timer = setTimeout(() => this.launchNext(), this.host.options.raceDelay);
      }
      return;
    }
    // Every transport has started: the race is lost once the last of them failed.
    if (!this.pending((attempt) => attempt.race === race.id)) this.raceLost(race);
  }

  private raceLost(race: Race): void {
    if (this.race !== race) return;
    this.race = null;
    if (this.host.state() === 'connected') {
      this.host.setState({ state: 'disconnected', code: ABNORMAL_CLOSURE, reason: 'no transport could resume the session' });
    }
    this.scheduleReconnect(race.refusedWith);
  }

  private scheduleReconnect(refusedWith?: number): void {
    if (this.stopped || this.host.state() === 'closed') return;
    const delay = this.backoff.next();
    const change: StateChange = { state: 'reconnecting', attempt: this.backoff.attempt, delay };
    if (refusedWith !== undefined) change.status = refusedWith;
    this.host.setState(change);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (!this.stopped && this.conn === null) this.startRace(false);
    }, delay);
  }

  // ---- attempts ----

  /** Starts one attempt; false when the transport could not even be created. */
  private launch(name: TransportName, purpose: Connection['purpose'], race: Race | null): boolean {
    const resumes = this.host.session();
    let conn: Connection;
    const handlers: TransportHandlers = {
      frame: (frame) => this.onFrame(conn, frame),
      activity: () => {
        conn.lastActivity = now();
      },
      closed: (code, reason, status) => this.ended(conn, code, reason, status),
      undelivered: (frames) => this.host.requeue(frames),
      rejected: (frames, status) => this.host.rejected(frames, status),
    };
    let transport: Transport;
    try {
      const context = this.host.context(handlers);
      transport =
        name === 'websocket'
          ? new WebSocketTransport(context)
          : name === 'sse'
            ? new SseTransport(context)
            : new LongPollTransport(context);
    } catch (error) {
      this.host.emit('transportFailed', { transport: name, reason: String(error) });
      return false;
    }
    conn = {
      name,
      transport,
      purpose,
      resumes,
      race: race?.id ?? 0,
      serial: ++this.serials,
      opened: false,
      ready: false,
      openTimer: null,
      stallTimer: null,
      lastActivity: now(),
    };
    this.attempts.add(conn);
    if (resumes !== null) this.lastResumeSerial = conn.serial;
    if (purpose === 'connect' && !race?.quiet) {
      this.host.setState({ state: 'connecting', transport: name, attempt: this.backoff.attempt });
      // A listener may have closed the client.
      if (!this.attempts.has(conn)) return true;
    }
    // The open timeout covers the token function too: one that never answers must not stall the client.
    const timeout = this.host.options.openTimeout;
    conn.openTimer = setTimeout(() => this.ended(conn, ABNORMAL_CLOSURE, `no welcome within ${timeout} ms`), timeout);
    const token = this.host.freshToken();
    if (token === null) {
      this.open(conn);
      return true;
    }
    token.then(
      () => {
        if (this.attempts.has(conn)) this.open(conn);
      },
      (error: unknown) => this.ended(conn, ABNORMAL_CLOSURE, `the token function failed: ${String(error)}`),
    );
    return true;
  }

  private open(conn: Connection): void {
    try {
      conn.transport.open(conn.resumes === null ? {} : { session: conn.resumes, ack: this.host.processed() });
    } catch (error) {
      this.ended(conn, ABNORMAL_CLOSURE, String(error));
    }
  }

  private onFrame(conn: Connection, frame: ServerFrame): void {
    const settling = this.settling.get(conn);
    if (settling) {
      settling.frames.push(frame);
      return;
    }
    if (this.attempts.has(conn)) {
      conn.lastActivity = now();
      if (frame.type === 'welcome') return this.attemptOpened(conn, frame);
      return this.ended(conn, 1002, `${frame.type} frame before welcome`);
    }
    if (conn !== this.conn) return;
    conn.lastActivity = now();
    if (frame.type !== 'welcome') return this.host.frame(frame);
    // A long poll whose session was gone started a new one.
    const resumed = this.host.welcome(conn, frame, 'again');
    if (this.conn === conn) this.host.ready(resumed);
  }

  private attemptOpened(conn: Connection, welcome: WelcomeFrame): void {
    this.attempts.delete(conn);
    if (conn.openTimer) clearTimeout(conn.openTimer);
    conn.openTimer = null;
    const session = this.host.session();
    const ours = welcome.resumed && session !== null && welcome.session === session;
    if (this.handover) {
      if (ours) return this.settle(conn, welcome);
      // The session is gone after all: end the one this attempt started; a race sorts out the rest.
      this.closeStray(conn);
      if (!this.ownInFlight()) this.handoverFailed();
      return;
    }
    if (this.conn === null) {
      const inRace = this.race !== null && conn.race === this.race.id;
      if (inRace || ours) return this.adopt(conn, welcome);
      return this.closeStray(conn);
    }
    if (!ours) return this.closeStray(conn);
    if (conn.name === 'longpoll' && conn.purpose === 'connect') {
      // A long poll takes the session over with its first poll, not sent yet: dropping it costs nothing.
      this.release(conn);
      return;
    }
    // An upgrade probe, or a late attempt of the race: its connect request took the session over (the current
    // connection gets 4500). Carry on there, unless it turns out to be over already.
    this.settle(conn, welcome);
  }

  /** Moves the session to `conn` after {@link LATE_SETTLE_MS}, unless it ends meanwhile. */
  private settle(conn: Connection, welcome: WelcomeFrame): void {
    const timer = setTimeout(() => {
      const late = this.settling.get(conn);
      this.settling.delete(conn);
      if (!late || this.stopped) return;
      this.switchTo(conn, welcome);
      for (const frame of late.frames) if (this.conn === conn) this.host.frame(frame);
    }, LATE_SETTLE_MS);
    this.settling.set(conn, { timer, frames: [] });
  }

  /** The race is won by `conn`. */
  private adopt(conn: Connection, welcome: WelcomeFrame): void {
    const race = this.race;
    if (race?.timer) clearTimeout(race.timer);
    this.race = null;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.conn = conn;
    conn.opened = true;
    this.memory.remember(conn.name);
    this.backoff.reset();
    this.authRefusals = 0;
    this.watchStall(conn, welcome.heartbeat_ms);
    // A quiet race (after a handover that failed) goes on from a session the application saw connected.
    const arrival: Arrival = race?.quiet && this.host.state() === 'connected' ? 'switched' : 'opened';
    const resumed = this.host.welcome(conn, welcome, arrival);
    if (this.conn !== conn) return;
    this.whenSettled(conn, resumed);
    this.scheduleUpgrade(true);
  }

  /** `conn` took the session over from the connection that carried it. */
  private switchTo(conn: Connection, welcome: WelcomeFrame): void {
    const old = this.conn;
    if (this.handover) clearTimeout(this.handover.timer);
    this.handover = null;
    if (old) this.retire(old);
    this.conn = conn;
    conn.opened = true;
    this.memory.remember(conn.name);
    this.watchStall(conn, welcome.heartbeat_ms);
    const resumed = this.host.welcome(conn, welcome, 'switched');
    if (this.conn !== conn) return;
    this.whenSettled(conn, resumed);
    this.scheduleUpgrade(true);
  }

  /** Frames flow on `conn` once an earlier connection's last HTTP request settled. */
  private whenSettled(conn: Connection, resumed: boolean): void {
    const start = (): void => {
      if (conn !== this.conn || conn.ready) return;
      conn.ready = true;
      this.host.ready(resumed);
    };
    const barrier = this.barrier;
    if (barrier) barrier.then(start);
    else start();
  }

  /** An attempt that started a session nobody wants: end that session. */
  private closeStray(conn: Connection): void {
    conn.opened = true;
    this.clearConnectionTimers(conn);
    conn.transport.close().catch(() => undefined);
  }

  /** An attempt or connection this client walks away from: whatever it had not sent is sent elsewhere. */
  private retire(conn: Connection): void {
    this.clearConnectionTimers(conn);
    this.rivalUntil = now() + this.host.options.requestTimeout;
    const { unsent, settled } = conn.transport.abandon();
    this.holdUntil(settled);
    this.host.requeue(unsent);
  }

  private release(conn: Connection): void {
    this.attempts.delete(conn);
    this.clearConnectionTimers(conn);
    if (conn.resumes !== null) this.rivalUntil = now() + this.host.options.requestTimeout;
    conn.transport.abandon();
  }

  /** A connection or attempt ended (its transport said so, or a timer did). */
  private ended(conn: Connection, code: number, reason: string, status?: number): void {
    const settling = this.settling.get(conn);
    if (settling) {
      clearTimeout(settling.timer);
      this.settling.delete(conn);
      this.rivalUntil = now() + this.host.options.requestTimeout;
      this.host.emit('transportFailed', { transport: conn.name, reason: `${code} ${reason} (right after its welcome)` });
      if (this.handover && !this.ownInFlight()) this.handoverFailed();
      else if (conn.purpose === 'upgrade') this.probeNext();
      return;
    }
    if (this.attempts.has(conn)) return this.attemptFailed(conn, code, reason, status);
    if (conn !== this.conn) return;
    const ownDoing = this.lastResumeSerial > conn.serial || now() < this.rivalUntil;
    this.conn = null;
    this.retire(conn);
    this.host.detached();
    if (code === CloseCode.Superseded && ownDoing) {
      // A connection of this client's own took the session over: an upgrade, a slow attempt of the race, or one
      // it walked away from with a request on the wire. A welcome is on the way, unless that attempt is gone.
      if (this.ownInFlight()) return this.awaitHandover(conn.name);
    } else if (!shouldReconnect(code)) {
      return this.host.terminate(code, reason, false);
    }
    this.host.setState({ state: 'disconnected', code, reason });
    this.scheduleReconnect();
  }

  private attemptFailed(conn: Connection, code: number, reason: string, status?: number): void {
    this.release(conn);
    const failed: ClientEvents['transportFailed'] = { transport: conn.name, reason: `${code} ${reason}` };
    if (status !== undefined) failed.status = status;
    this.host.emit('transportFailed', failed);
    if (this.stopped) return;
    if (this.handover && !this.ownInFlight()) this.handoverFailed();
    if (conn.purpose === 'upgrade') return this.probeNext();
    const race = this.race;
    if (!race || conn.race !== race.id) return;
    if (status === 401 || status === 403) {
      race.refusedWith = status;
      if (this.authRefused(conn.name, status, reason)) return;
    }
    this.launchNext();
  }

  /**
   * A connect attempt was refused with 401 or 403: said with an `error` event; the race goes on (transports carry
   * credentials differently: subprotocol, header, query or cookie), each asking the token function again, until
   * {@link MAX_AUTH_REFUSALS} refusals in a row close the client. True when the client closed.
   */
  private authRefused(transport: TransportName, status: number, reason: string): boolean {
    this.authRefusals++;
    const message = `${transport}: the server refused the credentials (HTTP ${status}): ${reason}`;
    this.host.emit('error', new TidingsError(ClientErrorCode.AuthRefused, message, undefined, status));
    if (this.host.state() === 'closed') return true; // closed by a listener
    if (this.authRefusals < MAX_AUTH_REFUSALS) return false;
    const summary = `the server refused the credentials ${this.authRefusals} times in a row (HTTP ${status}: ${reason})`;
    this.host.terminate(CloseCode.PolicyViolation, summary, false, status);
    return true;
  }

  // ---- handing the session over to a newer connection ----

  private awaitHandover(previous: TransportName): void {
    // The state stays 'connected' and frames wait in the buffer: the application sees a transport change at most.
    this.handover = { previous, timer: setTimeout(() => this.handoverFailed(), HANDOVER_GRACE_MS) };
  }

  /**
   * The connection the session went to delivers nothing (a proxy that buffers it, say): drop it and take the
   * session back, starting with the transport it was on.
   */
  private handoverFailed(): void {
    const handover = this.handover;
    if (!handover) return;
    clearTimeout(handover.timer);
    this.handover = null;
    for (const attempt of Array.from(this.attempts)) {
      if (attempt.resumes === null) continue;
      this.release(attempt);
      this.host.emit('transportFailed', { transport: attempt.name, reason: 'it took the session over and delivered nothing' });
    }
    this.upgradeFailures++;
    this.upgradeQueue = [];
    this.memory.remember(handover.previous);
    this.startRace(true);
  }

  // ---- upgrades ----

  /** Arms the next probe of the transports better than the current one (none when it is the best). */
  private scheduleUpgrade(fresh: boolean): void {
    if (this.upgradeTimer) clearTimeout(this.upgradeTimer);
    this.upgradeTimer = null;
    const upgrade = this.host.options.upgrade;
    const conn = this.conn;
    if (!upgrade || !conn || this.stopped) return;
    if (fresh) this.upgradeQueue = [];
    if (this.rank(conn.name) === 0) {
      this.upgradeFailures = 0;
      return;
    }
    const delay = Math.min(upgrade.maxDelay, upgrade.delay * Math.pow(2, Math.min(this.upgradeFailures, 30)));
    this.upgradeTimer = setTimeout(() => {
      this.upgradeTimer = null;
      const current = this.conn;
      if (!current || current !== conn) return;
      this.upgradeQueue = this.host.available.slice(0, this.rank(current.name));
      this.probeNext();
    }, delay);
  }

  /** Probes the next better transport of this round; when none is left, the round failed. */
  private probeNext(): void {
    const conn = this.conn;
    if (!conn || !conn.ready || this.handover || this.stopped) return;
    while (this.upgradeQueue.length > 0) {
      const name = this.upgradeQueue.shift() as TransportName;
      if (this.rank(name) >= this.rank(conn.name) || this.isDemoted(name)) continue;
      if (this.launch(name, 'upgrade', null)) return;
    }
    this.upgradeFailures++;
    this.scheduleUpgrade(false);
  }

  // ---- timers ----

  /**
   * Takes `conn` for dead after a silence: `stallTimeout`, or twice the server's heartbeat interval (plus slack)
   * when the server sends `ping` frames to it. A stream that opened and then went silent despite heartbeats is
   * held somewhere (a buffering proxy): its transport is demoted, and the race that follows starts elsewhere.
   */
  private watchStall(conn: Connection, heartbeatMs?: number): void {
    const beats = heartbeatMs !== undefined;
    if (!conn.transport.seesHeartbeats && !beats) return;
    const limit = beats ? Math.min(this.host.options.stallTimeout, 2 * heartbeatMs + 2_000) : this.host.options.stallTimeout;
    const check = (): void => {
      if (conn !== this.conn) return;
      const idle = now() - conn.lastActivity;
      if (idle < limit) {
        conn.stallTimer = setTimeout(check, limit - idle);
        return;
      }
      const reason = `stalled: nothing heard for ${idle} ms`;
      if (beats) {
        this.demoted.set(conn.name, now() + DEMOTED_FOR_MS);
        this.host.emit('transportFailed', { transport: conn.name, reason });
      }
      this.ended(conn, ABNORMAL_CLOSURE, reason);
    };
    conn.stallTimer = setTimeout(check, limit);
  }

  private isDemoted(name: TransportName): boolean {
    const until = this.demoted.get(name);
    if (until === undefined) return false;
    if (now() < until) return true;
    this.demoted.delete(name);
    return false;
  }

  private clearConnectionTimers(conn: Connection): void {
    if (conn.openTimer) clearTimeout(conn.openTimer);
    if (conn.stallTimer) clearTimeout(conn.stallTimer);
    conn.openTimer = conn.stallTimer = null;
  }

  private clearTimers(): void {
    if (this.race?.timer) clearTimeout(this.race.timer);
    this.race = null;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    if (this.upgradeTimer) clearTimeout(this.upgradeTimer);
    this.upgradeTimer = null;
    if (this.handover) clearTimeout(this.handover.timer);
    this.handover = null;
  }

  private holdUntil(settled: Promise<void>): void {
    const barrier: Promise<void> = Promise.all([this.barrier, settled]).then(
      () => undefined,
      () => undefined,
    );
    this.barrier = barrier;
    barrier.then(() => {
      if (this.barrier === barrier) this.barrier = null;
    });
  }

  /** A connection of this client that resumed the session may yet deliver it: an attempt, or one settling. */
  private ownInFlight(): boolean {
    return this.settling.size > 0 || this.pending((attempt) => attempt.resumes !== null);
  }

  private pending(which: (attempt: Connection) => boolean): boolean {
    for (const attempt of this.attempts) if (which(attempt)) return true;
    return false;
  }

  /** The place of `name` in the order of preference (0 is the best). */
  private rank(name: TransportName): number {
    const index = this.host.available.indexOf(name);
    return index < 0 ? this.host.available.length : index;
  }
}
