// Plain HTTP requests for the long-polling and SSE transports. XMLHttpRequest comes first because long polling
// exists for pages that may have nothing newer; `fetch` serves where there is no XMLHttpRequest (Node).

import { globalScope, resolveHostApi, type FetchLike, type XMLHttpRequestConstructor } from './env.js';

export interface HttpResponse {
  status: number;
  body: string;
}

export interface HttpRequest {
  method: 'GET' | 'POST';
  url: string;
  body?: string;
  /** Gives up after this many ms (the promise rejects with an {@link HttpError}). */
  timeout: number;
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string;
}

/** The headers of `request`: its body's type, and its credentials. */
function headersOf(request: HttpRequest): Record<string, string> {
  const headers: Record<string, string> = {};
  if (request.body !== undefined) headers['Content-Type'] = 'text/plain;charset=UTF-8';
  if (request.token !== undefined) headers.Authorization = `Bearer ${request.token}`;
  return headers;
}

/** A request that failed without an HTTP status: network error, timeout or abort. */
export class HttpError extends Error {
  constructor(message: string, readonly aborted = false) {
    super(message);
    this.name = 'HttpError';
  }
}

export interface PendingHttp {
  response: Promise<HttpResponse>;
  abort(): void;
}

export type HttpClient = (request: HttpRequest) => PendingHttp;

export interface HttpOptions {
  XMLHttpRequest?: XMLHttpRequestConstructor | null;
  fetch?: FetchLike | null;
  withCredentials?: boolean;
}

/** Picks XMLHttpRequest or fetch; undefined when the environment has neither. */
export function createHttpClient(options: HttpOptions): HttpClient | undefined {
  const Xhr = resolveHostApi(options.XMLHttpRequest, 'XMLHttpRequest');
  if (Xhr) return (request) => viaXhr(Xhr, request, options.withCredentials === true);
  let fetchFn = resolveHostApi(options.fetch, 'fetch');
  if (fetchFn && options.fetch === undefined) {
    // The global fetch must be called on the global object ("Illegal invocation" otherwise).
    const globalFetch = fetchFn;
    const scope = globalScope();
    fetchFn = (url, init) => globalFetch.call(scope, url, init);
  }
  if (fetchFn) {
    const f = fetchFn;
    return (request) => viaFetch(f, request, options.withCredentials === true);
  }
  return undefined;
}

function viaXhr(Xhr: XMLHttpRequestConstructor, request: HttpRequest, withCredentials: boolean): PendingHttp {
  const xhr = new Xhr();
  let settle: { resolve: (r: HttpResponse) => void; reject: (e: Error) => void } | undefined;
  const response = new Promise<HttpResponse>((resolve, reject) => {
    settle = { resolve, reject };
  });
  let done = false;
  const finish = (result: HttpResponse | Error): void => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    xhr.onreadystatechange = null;
    if (result instanceof Error) settle?.reject(result);
    else settle?.resolve(result);
  };
  // Our own timer rather than xhr.timeout, so that both clients time out the same way.
  const timer = setTimeout(() => {
    finish(new HttpError(`${request.method} timed out after ${request.timeout} ms`));
    xhr.abort();
  }, request.timeout);
  xhr.onreadystatechange = () => {
    if (xhr.readyState !== 4) return;
    // Status 0 is how XMLHttpRequest reports a network error (or a CORS refusal).
    if (xhr.status === 0) finish(new HttpError(`${request.method} failed: network error`));
    else finish({ status: xhr.status, body: xhr.responseText });
  };
  try {
    xhr.open(request.method, request.url, true);
    xhr.withCredentials = withCredentials;
    const headers = headersOf(request);
    for (const name of Object.keys(headers)) xhr.setRequestHeader(name, headers[name]);
    xhr.send(request.body ?? null);
  } catch (error) {
    finish(new HttpError(`${request.method} failed: ${String(error)}`));
  }
  return {
    response,
    abort: () => {
      finish(new HttpError(`${request.method} aborted`, true));
      xhr.abort();
    },
  };
}

function viaFetch(fetchFn: FetchLike, request: HttpRequest, withCredentials: boolean): PendingHttp {
  const scope = globalScope();
  const Controller = scope.AbortController as (new () => AbortController) | undefined;
  const controller = Controller ? new Controller() : undefined;
  let reject: ((error: Error) => void) | undefined;
  const stopped = new Promise<never>((_, rejectFn) => {
    reject = rejectFn;
  });
  // Settles the race below even where there is no AbortController to cancel the fetch itself.
  stopped.catch(() => undefined);
  const timer = setTimeout(() => {
    reject?.(new HttpError(`${request.method} timed out after ${request.timeout} ms`));
    controller?.abort();
  }, request.timeout);
  const headers = headersOf(request);
  const response = Promise.race([
    (async (): Promise<HttpResponse> => {
      let res;
      try {
        res = await fetchFn(request.url, {
          method: request.method,
          headers,
          body: request.body,
          credentials: withCredentials ? 'include' : 'same-origin',
          cache: 'no-store',
          signal: controller?.signal,
        });
        return { status: res.status, body: await res.text() };
      } catch (error) {
        throw error instanceof HttpError ? error : new HttpError(`${request.method} failed: ${String(error)}`);
      }
    })(),
    stopped,
  ]).then(
    (result) => {
      clearTimeout(timer);
      return result;
    },
    (error: unknown) => {
      clearTimeout(timer);
      throw error;
    },
  );
  return {
    response,
    abort: () => {
      reject?.(new HttpError(`${request.method} aborted`, true));
      controller?.abort();
    },
  };
}
