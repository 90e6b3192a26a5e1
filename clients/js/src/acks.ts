// The acknowledgements behind exactly-once processing by `seq`: the highest seq of the session processed so far,
// and when to tell the server of it (after `ackEvery` frames, or `ackInterval` ms after the first it was not told).

import type { ResolvedOptions } from './options.js';
import type { Transport } from './transports/transport.js';

/** The client's connection, as far as acknowledgements go. @internal */
export interface AckConnection {
  /** `welcome` arrived. */
  readonly opened: boolean;
  readonly transport: Pick<Transport, 'acksImplicitly' | 'sendAck'>;
}

/** @internal */
export class Acks {
  /** Highest seq processed in the current session. */
  private seq = 0;
  /** Highest seq the server was told about. */
  private acked = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;

  /** `connection` gives the client's connection of the moment, which an ack goes out on. */
  constructor(
    private readonly options: Pick<ResolvedOptions, 'ackEvery' | 'ackInterval'>,
    private readonly connection: () => AckConnection | null,
  ) {}

  /** Highest seq processed in the current session. */
  get processed(): number {
    return this.seq;
  }

  /** Frame `seq`, the one after `processed`, is being processed. */
  advance(seq: number): void {
    this.seq = seq;
  }

  /** The session was resumed: the connect request acknowledged everything processed. */
  resumed(): void {
    this.acked = this.seq;
  }

  /** A new session: its seqs start over. */
  newSession(): void {
    this.seq = 0;
    this.acked = 0;
  }

  /** Acknowledges what was processed, now if enough is, or else soon. */
  schedule(): void {
    const conn = this.connection();
    if (!conn || conn.transport.acksImplicitly) return;
    if (this.seq - this.acked >= this.options.ackEvery) this.send();
    else if (this.timer === null) this.timer = setTimeout(() => this.send(), this.options.ackInterval);
  }

  /** Drops an ack still to be sent: the connection it was for is over. */
  cancel(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private send(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const conn = this.connection();
    if (!conn || !conn.opened || this.seq <= this.acked) return;
    conn.transport.sendAck(this.seq);
    this.acked = this.seq;
  }
}
