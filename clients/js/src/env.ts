// The host APIs the transports use, described structurally so that Node's `ws` and `eventsource` packages (or
// test doubles) can stand in for the browser's, and looked up on the global object without assuming it has them.

/** The part of the WebSocket API the client uses (browsers' `WebSocket`, Node's `ws`). */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

/** `protocols` is passed only when the client has a token: `['tidings.v1', 'tidings.token.<token>']`. */
export type WebSocketConstructor = new (url: string, protocols?: string[]) => WebSocketLike;

/** The part of the EventSource API the client uses (browsers', Node's `eventsource`). */
export interface EventSourceLike {
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: string }) => void) | null;
  /** Node's `eventsource` puts the HTTP status of a refused request in the event's `code`; browsers tell nothing. */
  onerror: ((event: unknown) => void) | null;
  close(): void;
}

export type EventSourceConstructor = new (url: string, init?: { withCredentials?: boolean }) => EventSourceLike;

/** The part of XMLHttpRequest the client uses. */
export interface XMLHttpRequestLike {
  readonly readyState: number;
  readonly status: number;
  readonly responseText: string;
  timeout: number;
  withCredentials: boolean;
  onreadystatechange: ((event: unknown) => void) | null;
  open(method: string, url: string, async?: boolean): void;
  setRequestHeader(name: string, value: string): void;
  send(body?: string | null): void;
  abort(): void;
}

export type XMLHttpRequestConstructor = new () => XMLHttpRequestLike;

export interface FetchResponseLike {
  readonly status: number;
  text(): Promise<string>;
}

export type FetchLike = (
  url: string,
  init: {
    method: string;
    headers?: Record<string, string>;
    body?: string;
    credentials?: 'include' | 'same-origin';
    cache?: 'no-store';
    signal?: AbortSignal;
    keepalive?: boolean;
  },
) => Promise<FetchResponseLike>;

/** The global object, without relying on `globalThis` (ES2020), which ES2017 browsers may lack. */
export function globalScope(): Record<string, unknown> {
  if (typeof globalThis !== 'undefined') return globalThis as unknown as Record<string, unknown>;
  if (typeof self !== 'undefined') return self as unknown as Record<string, unknown>;
  if (typeof window !== 'undefined') return window as unknown as Record<string, unknown>;
  return {};
}

/**
 * Resolves an option that may be given (a constructor), explicitly absent (`null`: "pretend this environment has
 * none", which is how tests and applications disable a transport) or left to the global of that name.
 */
export function resolveHostApi<T>(given: T | null | undefined, globalName: string): T | undefined {
  if (given === null) return undefined;
  if (given !== undefined) return given;
  const found = globalScope()[globalName];
  return typeof found === 'function' ? (found as T) : undefined;
}

/** The page's own address, for resolving a relative endpoint URL in a browser. */
export function pageLocation(): string | undefined {
  const location = globalScope().location as { href?: unknown } | undefined;
  return location && typeof location.href === 'string' ? location.href : undefined;
}
