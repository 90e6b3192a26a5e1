// Ending the session when the page goes away for good (the `closeOnPageHide` option), so that the server need not
// wait out the resume window of a client that will never come back.

import type { FetchLike } from './env.js';
import type { Endpoints } from './url.js';

/** What the page-hide handling reads from its client, when the page goes. @internal */
export interface PageHideHost {
  /** The session to end: null when there is none, or the client is closed. */
  sessionToEnd(): string | null;
  /** The token requests carry, if any. */
  token(): string | undefined;
}

/**
 * Ends the session when the page goes away for good: with a beacon, or, when the client has a token (which a
 * beacon cannot carry), a `keepalive` fetch with the Authorization header. Does nothing where there is no page.
 * @internal
 */
export function watchPageHide(endpoints: Endpoints, withCredentials: boolean, host: PageHideHost): void {
  const page = globalThis as {
    addEventListener?: (type: string, listener: (event: { persisted?: boolean }) => void) => void;
    navigator?: { sendBeacon?: (url: string, body: string) => boolean };
    fetch?: FetchLike;
  };
  const beacon = page.navigator?.sendBeacon;
  const fetchFn = page.fetch;
  if (typeof page.addEventListener !== 'function') return;
  if (typeof beacon !== 'function' && typeof fetchFn !== 'function') return;
  page.addEventListener('pagehide', (event) => {
    if (event.persisted) return;
    const session = host.sessionToEnd();
    if (session === null) return;
    const url = endpoints.url('send', { session });
    const body = '[{"type":"close"}]';
    const token = host.token();
    if (token !== undefined && typeof fetchFn === 'function') {
      // Like a beacon, a keepalive request outlives the page.
      const headers = { 'Content-Type': 'text/plain;charset=UTF-8', Authorization: `Bearer ${token}` };
      const credentials = withCredentials ? 'include' : 'same-origin';
      fetchFn.call(page, url, { method: 'POST', body, headers, credentials, keepalive: true }).catch(() => undefined);
    } else if (typeof beacon === 'function') {
      // A beacon is a POST with a text/plain body, which /send takes; it is delivered even as the page unloads.
      beacon.call(page.navigator, url, body);
    }
  });
}
