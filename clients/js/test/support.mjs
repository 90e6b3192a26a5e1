// Shared by the end-to-end tests: starts target/debug/demo-server on an OS-chosen port, talks to its test-control
// endpoints, builds clients for a given transport with a switchable "network", and waits with deadlines.
//
// `node --test test/` also runs this file by itself; it then checks that the server starts and answers its
// control endpoints, so that a missing or broken binary is one clear failure rather than many confusing ones.

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import WebSocket from 'ws';
import { EventSource } from 'eventsource';
import { Client } from '../dist/index.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const SERVER_BIN = process.env.TIDINGS_DEMO_SERVER ?? path.join(repo, 'target', 'debug', 'demo-server');
export const TRANSPORTS = ['websocket', 'sse', 'longpoll'];

/**
 * Starts the demo server; resolves once it printed its address. `stop()` ends that process only, by its handle.
 * With `jwtSecret`, clients need an HS256 token (`token()` mints one); `queryTokens` also takes `?access_token=`.
 * `heartbeatMs` sets how often connections that ask for heartbeats get a `ping` frame.
 * @param {{ resumeWindowMs?: number, jwtSecret?: string, queryTokens?: boolean, heartbeatMs?: number }} [options]
 */
export async function startServer({ resumeWindowMs, jwtSecret, queryTokens = false, heartbeatMs } = {}) {
  if (!existsSync(SERVER_BIN)) {
    throw new Error(`${SERVER_BIN} does not exist: build it with \`cargo build -p tidings-tests --bin demo-server\``);
  }
  const args = resumeWindowMs === undefined ? [] : ['--resume-window-ms', String(resumeWindowMs)];
  if (jwtSecret !== undefined) args.push('--jwt-secret', jwtSecret);
  if (queryTokens) args.push('--query-tokens');
  if (heartbeatMs !== undefined) args.push('--heartbeat-ms', String(heartbeatMs));
  const child = spawn(SERVER_BIN, args, {
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'warn' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout });
  const base = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('demo-server did not print its address within 10 s')), 10_000);
    lines.on('line', (line) => {
      const match = line.match(/listening on (http:\/\/\S+)/);
      if (match) {
        clearTimeout(timer);
        resolve(match[1].replace(/\/+$/, ''));
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`demo-server exited (${code ?? signal}) before listening`));
    });
  });
  // Keep reading its stdout, so that the pipe never fills up and blocks the server.
  lines.on('line', () => undefined);

  async function control(method, pathAndQuery, body) {
    const response = await fetch(`${base}${pathAndQuery}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(5_000),
    });
    const text = await response.text();
    const json = (response.headers.get('content-type') ?? '').includes('json');
    return { status: response.status, body: json && text ? JSON.parse(text) : text };
  }

  return {
    base,
    url: `${base}/realtime`,
    /** The server publishes `data` to `topic`; resolves with `{offset, epoch}`. */
    async publish(topic, data) {
      const { status, body } = await control('POST', `/control/publish?topic=${encodeURIComponent(topic)}`, data);
      if (status !== 200) throw new Error(`control/publish answered ${status}`);
      return body;
    },
    /** Drops the session's connection without a close frame; resolves with the HTTP status (204, or 404). */
    async drop(session) {
      const { status } = await control('POST', `/control/drop?session=${encodeURIComponent(session)}`);
      return status;
    },
    async sessions() {
      const { status, body } = await control('GET', '/control/sessions');
      if (status !== 200) throw new Error(`control/sessions answered ${status}`);
      return body.count;
    },
    /**
     * With `jwtSecret`: a token for `user` that expires in `ttlMs` (the JWT's `exp` is in whole seconds, so it
     * expires up to a second sooner). Resolves with `{ token, expiresAt }`, the expiry in ms since the epoch.
     */
    async token(user, ttlMs) {
      const { status, body } = await control('GET', `/control/token?user=${encodeURIComponent(user)}&ttl_ms=${ttlMs}`);
      if (status !== 200) throw new Error(`control/token answered ${status}: ${body}`);
      const payload = JSON.parse(Buffer.from(body.split('.')[1], 'base64url').toString('utf8'));
      return { token: body, expiresAt: payload.exp * 1000 };
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await once(child, 'exit');
        clearTimeout(timer);
      }
    },
  };
}

/**
 * Host APIs for one client whose network can be switched off: while `offline`, new WebSocket and EventSource
 * connections go to a port where nothing listens and HTTP requests fail, as when a laptop loses its Wi-Fi.
 */
export function switchableNetwork() {
  const network = { offline: false };
  const unreachable = (url) => {
    const target = new URL(url);
    target.host = '127.0.0.1:9';
    return target.href;
  };
  network.WebSocket = class extends WebSocket {
    constructor(url, ...rest) {
      super(network.offline ? unreachable(url) : url, ...rest);
    }
  };
  network.EventSource = class extends EventSource {
    constructor(url, init) {
      super(network.offline ? unreachable(url) : url, init);
    }
  };
  network.fetch = (url, init) =>
    network.offline ? Promise.reject(new TypeError('fetch failed: offline')) : fetch(url, init);
  return network;
}

/** A client of `server` that uses only `transport`, with short timeouts fit for tests. */
export function clientFor(server, transport, { network = switchableNetwork(), ...options } = {}) {
  return new Client(server.url, {
    transports: [transport],
    WebSocket: network.WebSocket,
    EventSource: network.EventSource,
    fetch: network.fetch,
    requestTimeout: 5_000,
    openTimeout: 3_000,
    backoff: { minDelay: 50, maxDelay: 500 },
    ...options,
  });
}

/** Resolves when `predicate()` holds, checking every 10 ms; rejects after `timeout` ms naming `what`. */
export async function waitUntil(predicate, what, timeout = 5_000) {
  const deadline = Date.now() + timeout;
  for (;;) {
    if (await predicate()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Resolves with the next `event` of `emitter`, or rejects after `timeout` ms. */
export function nextEvent(emitter, event, timeout = 5_000, filter = () => true) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out after ${timeout} ms waiting for '${event}'`));
    }, timeout);
    const off = emitter.on(event, (value) => {
      if (!filter(value)) return;
      clearTimeout(timer);
      off();
      resolve(value);
    });
  });
}

/** `promise`, or a rejection naming `what` after `timeout` ms. */
export function within(promise, what, timeout = 5_000) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${timeout} ms waiting for ${what}`)), timeout);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Runs when node --test executes this file on its own: the server the other tests need starts and answers. */
if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const { test } = await import('node:test');
  const assert = await import('node:assert/strict');
  test('demo-server starts and answers its control endpoints', async () => {
    const server = await startServer();
    try {
      assert.equal(await server.sessions(), 0);
      const position = await server.publish('news:support', { hello: 1 });
      assert.equal(typeof position.offset, 'number');
      assert.equal(typeof position.epoch, 'string');
      assert.equal(await server.drop('0123456789abcdef0123456789abcdef'), 404);
    } finally {
      await server.stop();
    }
  });
}
