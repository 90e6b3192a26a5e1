// Which close codes invite a reconnect and which mean "give up" (docs/protocol.md, "Close codes").

export const CloseCode = {
  Normal: 1000,
  GoingAway: 1001,
  ProtocolError: 1002,
  UnsupportedData: 1003,
  NoStatus: 1005,
  Abnormal: 1006,
  InvalidPayload: 1007,
  /** Not sent by a Tidings server: the code of the `closed` event when the client gave up on refused credentials. */
  PolicyViolation: 1008,
  TooBig: 1009,
  InternalError: 1011,
  ServiceRestart: 1012,
  TryAgainLater: 1013,
  SlowConsumer: 4000,
  IdleTimeout: 4001,
  /** The session's credentials expired and were not refreshed: reconnect with fresh ones. */
  CredentialsExpired: 4003,
  Superseded: 4500,
} as const;

/**
 * True when a connection that ended with `code` should be replaced (with backoff). Codes the table does not list
 * in the reconnect ranges are treated as "give up": retrying blindly what a server refused is what it asked us not
 * to do, and the application learns of it through the `closed` event.
 */
export function shouldReconnect(code: number): boolean {
  if (code === CloseCode.GoingAway || code === CloseCode.NoStatus || code === CloseCode.Abnormal) return true;
  // 1011 server error, 1012 restart, 1013 try again later, 1014 bad gateway, 1015 TLS handshake failure.
  if (code >= 1011 && code <= 1015) return true;
  // 4000-4499: slow consumer, idle timeout, and future "reconnect" reasons. 4500 (superseded) and above: give up.
  return code >= 4000 && code <= 4499;
}
