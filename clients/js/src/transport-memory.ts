// Remembers which transport last carried a session to an endpoint, so that the next connection (a reconnect, or the
// next page load) starts with it instead of waiting again for transports a proxy refuses. Kept per endpoint, in the
// page's sessionStorage or localStorage where asked and available, else in this process's memory (Node).

import type { TransportName } from './transports/transport.js';
import { TRANSPORT_NAMES } from './transports/transport.js';

/** Where the transport that worked is kept: `false` forgets it with the client. */
export type TransportMemoryOption = 'session' | 'local' | 'memory' | false;

/** A remembered transport is trusted this long: networks change (a laptop leaves the office proxy behind). */
const TRUSTED_FOR_MS = 24 * 60 * 60 * 1000;
const KEY_PREFIX = 'tidings.transport:';

interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

/** Shared by the clients of this process (the `memory` kind, and where no web storage is available). */
const processMemory = new Map<string, string>();
const processStore: StorageLike = {
  getItem: (key) => processMemory.get(key) ?? null,
  setItem: (key, value) => void processMemory.set(key, value),
};

function webStorage(kind: 'session' | 'local'): StorageLike | null {
  try {
    const global = globalThis as { sessionStorage?: StorageLike; localStorage?: StorageLike };
    const storage = kind === 'session' ? global.sessionStorage : global.localStorage;
    if (!storage) return null;
    // Private modes and sandboxed frames may have the object and throw on use.
    storage.getItem(KEY_PREFIX);
    return storage;
  } catch {
    return null;
  }
}

export class TransportMemory {
  private readonly key: string;
  private readonly store: StorageLike | null;
  /** This client's own recollection, for `false` and when the store fails. */
  private own: TransportName | null = null;

  constructor(endpoint: string, where: TransportMemoryOption) {
    this.key = KEY_PREFIX + endpoint;
    this.store = where === false ? null : where === 'memory' ? processStore : (webStorage(where) ?? processStore);
  }

  /** The transport that worked last, if it is recent enough. */
  recall(): TransportName | null {
    if (!this.store) return this.own;
    try {
      const entry = JSON.parse(this.store.getItem(this.key) ?? 'null') as { transport?: unknown; at?: unknown } | null;
      const name = entry?.transport as TransportName;
      if (!TRANSPORT_NAMES.includes(name) || typeof entry?.at !== 'number') return this.own;
      return Date.now() - entry.at < TRUSTED_FOR_MS ? name : this.own;
    } catch {
      return this.own;
    }
  }

  remember(transport: TransportName): void {
    this.own = transport;
    try {
      this.store?.setItem(this.key, JSON.stringify({ transport, at: Date.now() }));
    } catch {
      // A full or disabled storage: this client still remembers for itself.
    }
  }
}
