// Endpoint addresses: the user gives the http(s) base the server mounted Tidings under (`http://host/realtime`);
// every transport derives its endpoint from it, keeping any query parameters the application put there (a token,
// for instance).

import { pageLocation } from './env.js';

export type Endpoint = 'ws' | 'sse' | 'poll' | 'send';

export class Endpoints {
  private readonly base: URL;

  constructor(url: string) {
    const base = new URL(url, pageLocation());
    // A ws(s) base is accepted too: the HTTP transports need its http(s) twin.
    if (base.protocol === 'ws:') base.protocol = 'http:';
    else if (base.protocol === 'wss:') base.protocol = 'https:';
    if (base.protocol !== 'http:' && base.protocol !== 'https:') {
      throw new TypeError(`Tidings endpoint must be an http(s) or ws(s) URL, got ${url}`);
    }
    base.hash = '';
    base.pathname = base.pathname.replace(/\/+$/, '');
    this.base = base;
  }

  /** The address of `endpoint` with `params` added (undefined values are left out). */
  url(endpoint: Endpoint, params: Record<string, string | number | undefined> = {}): string {
    const url = new URL(this.base.href);
    url.pathname = `${url.pathname}/${endpoint}`;
    if (endpoint === 'ws') url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    for (const key of Object.keys(params)) {
      const value = params[key];
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    return url.href;
  }

  /** The base, as given (normalized). */
  get href(): string {
    return this.base.href;
  }
}
