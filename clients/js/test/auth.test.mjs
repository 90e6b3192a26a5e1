// Credentials against the real demo server with JWT authentication, once per transport: a token connects and goes
// where each transport carries it (WebSocket subprotocol, Authorization header, SSE query); a refused connect is
// surfaced with its status and not retried forever; an in-band refresh keeps the session past the first token's
// expiry; and a session whose token expires unrefreshed is closed with 4003 and comes back with a fresh token.
//
// SSE runs against a second server that takes query tokens: an EventSource cannot send headers.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Client, MAX_AUTH_REFUSALS, TidingsError } from '../dist/index.js';
import { TRANSPORTS, clientFor, nextEvent, startServer, switchableNetwork, within } from './support.mjs';

const SECRET = 'auth-test-secret-of-at-least-thirty-two-bytes';
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Host APIs that record what the client sends: WebSocket subprotocols, EventSource URLs, and the URL and
 * Authorization header of every HTTP request.
 */
function recordingNetwork() {
  const network = switchableNetwork();
  const sent = { protocols: [], eventSources: [], http: [] };
  const { WebSocket: BaseSocket, EventSource: BaseSource, fetch: baseFetch } = network;
  network.WebSocket = class extends BaseSocket {
    constructor(url, protocols) {
      sent.protocols.push(protocols);
      super(url, protocols);
    }
  };
  network.EventSource = class extends BaseSource {
    constructor(url, init) {
      sent.eventSources.push(url);
      super(url, init);
    }
  };
  network.fetch = (url, init) => {
    sent.http.push({ method: init.method, url, authorization: init.headers?.Authorization });
    return baseFetch(url, init);
  };
  return { network, sent };
}

/** Collects every value of `event` on `emitter`. */
function collect(emitter, event) {
  const values = [];
  emitter.on(event, (value) => values.push(value));
  return values;
}

/** The next publication on `sub`'s async iterator, within `timeout` ms. */
async function nextData(iterator, what, timeout = 5_000) {
  const { value, done } = await within(iterator.next(), what, timeout);
  assert.equal(done, false, `${what}: the subscription ended`);
  return value.data;
}

describe('credentials', { concurrency: true, timeout: 60_000 }, () => {
  let plain;
  let queryTokens;
  before(async () => {
    [plain, queryTokens] = await Promise.all([
      startServer({ jwtSecret: SECRET }),
      startServer({ jwtSecret: SECRET, queryTokens: true }),
    ]);
  });
  after(() => Promise.all([plain?.stop(), queryTokens?.stop()]));

  for (const transport of TRANSPORTS) {
    // SSE puts the token in its URL, which only a server with query tokens takes.
    const sse = transport === 'sse';
    const server = () => (sse ? queryTokens : plain);
    const options = (extra = {}) => ({ ...(sse ? { tokenInQuery: true } : {}), ...extra });

    describe(transport, { concurrency: true }, () => {
      /** A client on this transport, closed when the test ends. */
      const client = (t, extra) => {
        const c = clientFor(server(), transport, options(extra));
        t.after(() => c.close());
        return c;
      };

      test('connects with a token, which every request carries the way its transport can', async (t) => {
        const { token } = await server().token('ann', 600_000);
        const { network, sent } = recordingNetwork();
        const c = client(t, { token, network });
        await within(c.ready(), 'the connection');
        const topic = `news:auth-${transport}`;
        const sub = c.subscribe(topic);
        const iterator = sub[Symbol.asyncIterator]();
        await within(sub.ready, 'the subscription');
        await server().publish(topic, { n: 1 });
        assert.deepEqual(await nextData(iterator, 'the publication'), { n: 1 });
        const calc = c.subscribe('calc');
        await within(calc.ready, 'the calc subscription');
        assert.equal(await c.request('calc', { add: [2, 3] }), 5);

        if (transport === 'websocket') {
          assert.deepEqual(sent.protocols, [['tidings.v1', `tidings.token.${token}`]]);
        } else {
          const posts = sent.http.filter((r) => r.method === 'POST');
          assert.ok(posts.length > 0, 'frames went up with POST /send');
          for (const request of sent.http) {
            assert.equal(request.authorization, `Bearer ${token}`, `${request.method} ${request.url}`);
            assert.ok(!request.url.includes('access_token'), `no token in ${request.url}`);
          }
        }
        if (sse) {
          assert.equal(sent.eventSources.length, 1);
          assert.equal(new URL(sent.eventSources[0]).searchParams.get('access_token'), token);
        }
      });

      test('without a token: refused with 401, surfaced, and given up after a few attempts', async (t) => {
        const c = client(t);
        const errors = collect(c, 'error');
        const failures = collect(c, 'transportFailed');
        const states = collect(c, 'state');
        const ready = c.ready();
        const closed = await nextEvent(c, 'closed', 10_000);
        assert.equal(closed.code, 1008);
        assert.equal(closed.status, 401);
        assert.match(closed.reason, /refused the credentials 3 times/);
        await assert.rejects(ready, (error) => error instanceof TidingsError && error.status === 401);
        assert.equal(errors.length, MAX_AUTH_REFUSALS);
        for (const error of errors) {
          assert.ok(error instanceof TidingsError);
          assert.equal(error.code, 'auth_refused');
          assert.equal(error.status, 401);
          // The server's reason, where the transport can read the body (Node's eventsource gives only the status).
          if (!sse) assert.match(error.message, /no token/);
        }
        assert.deepEqual(failures.map((f) => f.status), [401, 401, 401]);
        const reconnecting = states.filter((s) => s.state === 'reconnecting');
        assert.ok(reconnecting.length >= 1 && reconnecting.every((s) => s.status === 401), JSON.stringify(states));
        // No more attempts once closed.
        await sleep(300);
        assert.equal(failures.length, MAX_AUTH_REFUSALS);
        assert.equal(c.state, 'closed');
      });

      test('a token function is asked again before every attempt; refused tokens end the same way', async (t) => {
        let calls = 0;
        const c = client(t, {
          token: async () => {
            calls++;
            return 'not-a-jwt';
          },
        });
        const closed = await nextEvent(c, 'closed', 10_000);
        assert.equal(closed.status, 401);
        assert.equal(calls, MAX_AUTH_REFUSALS, 'one token per attempt');
      });

      test('refresh in band keeps the session past the first token\'s expiry', async (t) => {
        const first = await server().token('ann', 3_000);
        const c = client(t, { token: first.token });
        const disconnects = collect(c, 'disconnected');
        const connected = await nextEvent(c, 'connected');
        const topic = `news:auth-refresh-${transport}`;
        const sub = c.subscribe(topic);
        const iterator = sub[Symbol.asyncIterator]();
        await within(sub.ready, 'the subscription');

        // Refused tokens change nothing.
        await assert.rejects(c.refresh('not-a-jwt'), (error) => error.code === 'unauthorized' && error.fromServer);
        const bob = await server().token('bob', 600_000);
        await assert.rejects(c.refresh(bob.token), (error) => error.code === 'unauthorized');
        const second = await server().token('ann', 600_000);
        assert.equal(await c.refresh(second.token), second.expiresAt);

        await sleep(first.expiresAt + 1_500 - Date.now());
        await server().publish(topic, { n: 1 });
        assert.deepEqual(await nextData(iterator, 'a publication after the first expiry'), { n: 1 });
        // Requests still go up (long polling and SSE: POST /send, with the refreshed token).
        assert.equal((await c.history(topic)).publications.length, 1);
        assert.deepEqual(disconnects, []);
        assert.equal(c.sessionId, connected.session);
      });

      test('an unrefreshed token is closed with 4003, and the client comes back with a fresh one', async (t) => {
        const issued = [];
        const c = client(t, {
          token: async () => {
            if (issued.length > 0) await sleep(300); // a login service that takes a moment
            const minted = await server().token('ann', issued.length === 0 ? 3_000 : 600_000);
            issued.push(minted);
            return minted.token;
          },
        });
        const topic = `news:auth-expiry-${transport}`;
        const sub = c.subscribe(topic);
        const iterator = sub[Symbol.asyncIterator]();
        await within(sub.ready, 'the subscription');
        await server().publish(topic, { n: 1 });
        assert.deepEqual(await nextData(iterator, 'publication 1'), { n: 1 });

        const lost = await nextEvent(c, 'disconnected', 6_000);
        assert.equal(lost.code, 4003);
        assert.ok(Date.now() >= issued[0].expiresAt, 'closed at the expiry, not before');
        // Published while the client is away: it gets it once back, from its session or from history.
        await server().publish(topic, { n: 2 });
        await nextEvent(c, 'connected', 5_000);
        assert.equal(issued.length, 2, 'a fresh token for the reconnect');
        assert.deepEqual(await nextData(iterator, 'publication 2'), { n: 2 });
        await server().publish(topic, { n: 3 });
        assert.deepEqual(await nextData(iterator, 'publication 3'), { n: 3 });
        assert.equal(c.state, 'connected');
      });
    });
  }

  test('SSE without tokenInQuery sends no token (cookies only), and is refused by a server that wants one', async (t) => {
    const { token } = await plain.token('ann', 600_000);
    const { network, sent } = recordingNetwork();
    const c = clientFor(plain, 'sse', { token, network });
    t.after(() => c.close());
    const failed = await nextEvent(c, 'transportFailed');
    assert.equal(failed.status, 401);
    assert.ok(!sent.eventSources[0].includes('access_token'), sent.eventSources[0]);
  });

  test('a server without query tokens refuses them: tokenInQuery only touches the SSE URL', async (t) => {
    // WebSocket and long polling with tokenInQuery still connect to a server that refuses query tokens.
    for (const transport of ['websocket', 'longpoll']) {
      const { token } = await plain.token('ann', 600_000);
      const c = clientFor(plain, transport, { token, tokenInQuery: true });
      t.after(() => c.close());
      await within(c.ready(), `${transport} with tokenInQuery`);
    }
  });
});

// ---- without a server: the token function's failures, and what a browser (which hides statuses) gets ----

/** A browser-like WebSocket that fails every connection without saying why, recording the subprotocols offered. */
function failingBrowserSocket() {
  const offered = [];
  class FailingWebSocket {
    constructor(url, protocols) {
      offered.push(protocols);
      this.readyState = 0;
      this.onopen = this.onmessage = this.onclose = this.onerror = null;
      setTimeout(() => {
        this.readyState = 3;
        this.onerror?.({});
        this.onclose?.({ code: 1006, reason: '' });
      }, 1);
    }
    send() {}
    close() {}
  }
  return { WebSocket: FailingWebSocket, offered };
}

/** A client of a server that does not exist, over the given WebSocket class only. */
function offlineClient(t, WebSocket, options) {
  const c = new Client('http://tidings.test/realtime', {
    transports: ['websocket'],
    WebSocket,
    EventSource: null,
    XMLHttpRequest: null,
    fetch: null,
    backoff: { minDelay: 1, maxDelay: 5 },
    ...options,
  });
  t.after(() => c.close());
  return c;
}

describe('token functions and refusals a browser cannot see', { timeout: 10_000 }, () => {
  test('a failing token function fails that attempt only: the next one asks again', async (t) => {
    const { WebSocket, offered } = failingBrowserSocket();
    let calls = 0;
    const c = offlineClient(t, WebSocket, {
      token: () => {
        calls++;
        if (calls === 1) throw new Error('login service down');
        if (calls === 2) return Promise.reject(new Error('still down'));
        return `token-${calls}`;
      },
    });
    const failures = collect(c, 'transportFailed');
    await within(
      new Promise((resolve) => c.on('transportFailed', () => failures.length >= 4 && resolve())),
      'four failed attempts',
    );
    assert.match(failures[0].reason, /token function failed: Error: login service down/);
    assert.match(failures[1].reason, /token function failed: Error: still down/);
    // Sockets are opened only with a token, and each with the token of its own attempt.
    assert.deepEqual(offered.slice(0, 2), [
      ['tidings.v1', 'tidings.token.token-3'],
      ['tidings.v1', 'tidings.token.token-4'],
    ]);
    // Failures without a status are not refusals of the credentials: the client keeps trying.
    assert.equal(c.state === 'closed', false);
  });

  test('a token function that never answers is bounded by openTimeout', async (t) => {
    const { WebSocket, offered } = failingBrowserSocket();
    const c = offlineClient(t, WebSocket, { token: () => new Promise(() => {}), openTimeout: 100 });
    const failed = await nextEvent(c, 'transportFailed', 2_000);
    assert.match(failed.reason, /no welcome within 100 ms/);
    assert.deepEqual(offered, []);
  });

  test('a refusal the environment hides is a failure like any other: no status, no giving up', async (t) => {
    const { WebSocket } = failingBrowserSocket();
    const c = offlineClient(t, WebSocket, { token: 'x' });
    const errors = collect(c, 'error');
    const failures = collect(c, 'transportFailed');
    await within(
      new Promise((resolve) => c.on('transportFailed', () => failures.length > MAX_AUTH_REFUSALS && resolve())),
      'more attempts than the refusal limit',
    );
    assert.ok(failures.every((f) => f.status === undefined));
    assert.deepEqual(errors, []);
    assert.notEqual(c.state, 'closed');
  });

  test('options and refresh check their token', async (t) => {
    const { WebSocket } = failingBrowserSocket();
    assert.throws(() => offlineClient(t, WebSocket, { token: 42 }), TypeError);
    const c = offlineClient(t, WebSocket, { autoConnect: false });
    await assert.rejects(c.refresh(''), TypeError);
  });
});
