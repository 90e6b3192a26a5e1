// The one error type the client rejects and emits with, so that callers can branch on `code` whether the server
// refused a request (its error codes pass through unchanged) or the client gave up on it.

/** Codes of failures the client detects itself; every other code comes from the server (docs/protocol.md). */
export const ClientErrorCode = {
  /** The request got no answer within its timeout. It may or may not have been carried out. */
  Timeout: 'timeout',
  /** The session ended (expired or closed by the server) before the answer came; a new session was started. */
  SessionLost: 'session_lost',
  /** The client was closed, by `close()` or by a close code that means "give up". */
  Closed: 'closed',
  /** The server answered with something this client cannot read. */
  BadResponse: 'bad_response',
  /** The server refused the frame before handling it (HTTP 400/413 on `POST /send`). */
  Rejected: 'rejected',
  /** The call was invalid on the client side (a topic already subscribed, a room already joined). */
  InvalidState: 'invalid_state',
  /**
   * The server refused the connection's credentials: HTTP 401 (none, or ones that do not check out) or 403 (not
   * allowed); `status` says which. Emitted as an `error` event at each refusal; after {@link MAX_AUTH_REFUSALS}
   * consecutive ones the client closes.
   */
  AuthRefused: 'auth_refused',
} as const;

/** How many consecutive connect attempts the server may refuse with 401 or 403 before the client closes. */
export const MAX_AUTH_REFUSALS = 3;

export type ClientErrorCode = (typeof ClientErrorCode)[keyof typeof ClientErrorCode];

/**
 * A refused or failed request. `code` is the server's error code (`forbidden`, `unknown_topic`, a handler's own
 * code, ...) or one of {@link ClientErrorCode}.
 */
export class TidingsError extends Error {
  readonly code: string;
  /** The close code, when the error comes from the connection being closed. */
  readonly closeCode: number | undefined;
  /** The HTTP status, when the server refused the connection's credentials (401 or 403). */
  readonly status: number | undefined;

  constructor(code: string, message: string, closeCode?: number, status?: number) {
    super(message);
    this.name = 'TidingsError';
    this.code = code;
    this.closeCode = closeCode;
    this.status = status;
    // Keeps `instanceof` right when the class is down-compiled or bundled for older targets.
    Object.setPrototypeOf(this, new.target.prototype);
  }

  /** True when the server refused the request (as opposed to the client giving up on it). */
  get fromServer(): boolean {
    return !(Object.values(ClientErrorCode) as string[]).includes(this.code);
  }
}
