// Choosing a transport: a refused or silent transport falls back to the next in the order, transports the
// environment lacks are skipped, a transport that worked is tried first on reconnect, and the session carries over
// from one transport to another.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import WebSocket from 'ws';
import { EventSource } from 'eventsource';
import { Client } from '../dist/index.js';
import { nextEvent, startServer, waitUntil, within } from './support.mjs';

let server;
let silent;
let silentPort;
const sockets = new Set();

before(async () => {
  server = await startServer();
  // Accepts connections and never answers: a WebSocket handshake to it neither succeeds nor fails.
  silent = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise((resolve) => silent.listen(0, '127.0.0.1', resolve));
  silentPort = silent.address().port;
});

after(async () => {
  for (const socket of sockets) socket.destroy();
  await new Promise((resolve) => silent?.close(resolve));
  await server?.stop();
});

/** A WebSocket class whose handshake the server refuses (404: no such endpoint). */
class RefusedWebSocket extends WebSocket {
  constructor(url, ...rest) {
    super(url.replace('/realtime/ws', '/realtime/no-such-endpoint'), ...rest);
  }
}

/** Options every client here shares. */
const base = {
  WebSocket,
  EventSource,
  requestTimeout: 5_000,
  openTimeout: 3_000,
  backoff: { minDelay: 20, maxDelay: 200 },
  // Each client remembers for itself: what one test's client learned must not reorder another's attempts.
  rememberTransport: false,
};

function connectingTo(client) {
  const tried = [];
  client.on('state', (change) => {
    if (change.state === 'connecting') tried.push(change.transport);
  });
  return tried;
}

test('a transport the server refuses falls back to the next one', { timeout: 10_000 }, async (t) => {
  const client = new Client(server.url, { ...base, WebSocket: RefusedWebSocket, transports: ['websocket', 'sse'] });
  t.after(() => client.close());
  const tried = connectingTo(client);
  const failed = nextEvent(client, 'transportFailed');
  const connected = await nextEvent(client, 'connected');
  assert.equal((await failed).transport, 'websocket');
  assert.equal(connected.transport, 'sse');
  assert.deepEqual(tried, ['websocket', 'sse']);
  const sub = client.subscribe('news:fallback');
  await within(sub.ready, 'a subscription over the fallback');
});

test('a transport that does not open within openTimeout falls back to the next one', { timeout: 10_000 }, async (t) => {
  class SilentWebSocket extends WebSocket {
    constructor(url, ...rest) {
      super(url.replace(/\/\/[^/]+/, `//127.0.0.1:${silentPort}`), ...rest);
    }
  }
  const started = Date.now();
  const client = new Client(server.url, {
    ...base,
    WebSocket: SilentWebSocket,
    transports: ['websocket', 'longpoll'],
    openTimeout: 300,
  });
  t.after(() => client.close());
  const failed = await nextEvent(client, 'transportFailed');
  assert.equal(failed.transport, 'websocket');
  assert.match(failed.reason, /no welcome within 300 ms/);
  const connected = await nextEvent(client, 'connected');
  assert.equal(connected.transport, 'longpoll');
  assert.ok(Date.now() - started >= 300, 'the silent transport had its openTimeout');
});

test('transports the environment lacks are skipped', { timeout: 10_000 }, async (t) => {
  const onlyHttp = new Client(server.url, { ...base, WebSocket: null, EventSource: null });
  const noWebSocket = new Client(server.url, { ...base, WebSocket: null });
  t.after(() => Promise.all([onlyHttp.close(), noWebSocket.close()]));
  // Both connect at once: listen to both before waiting for either, or the second's event may come first, unheard.
  const tried = connectingTo(onlyHttp);
  const onlyHttpConnected = nextEvent(onlyHttp, 'connected');
  const noWebSocketConnected = nextEvent(noWebSocket, 'connected');
  assert.equal((await onlyHttpConnected).transport, 'longpoll');
  assert.deepEqual(tried, ['longpoll']);
  assert.equal((await noWebSocketConnected).transport, 'sse');
});

test('reconnects try the transport that worked first, then the order again; the session carries over', { timeout: 15_000 }, async (t) => {
  let sseWorks = true;
  class SwitchableEventSource extends EventSource {
    constructor(url, init) {
      super(sseWorks ? url : url.replace('/realtime/sse', '/realtime/no-such-endpoint'), init);
    }
  }
  const client = new Client(server.url, { ...base, WebSocket: RefusedWebSocket, EventSource: SwitchableEventSource });
  t.after(() => client.close());
  const tried = connectingTo(client);
  const got = [];
  const sub = client.subscribe('news:carry-over', (pub) => got.push(pub.data));
  assert.equal((await nextEvent(client, 'connected')).transport, 'sse');
  await within(sub.ready, 'the subscription');
  assert.deepEqual(tried.splice(0), ['websocket', 'sse']);
  const session = client.sessionId;

  // Lost: SSE, which worked, is tried first, and works again.
  let reconnected = nextEvent(client, 'connected');
  assert.equal(await server.drop(session), 204);
  assert.deepEqual(await reconnected, { transport: 'sse', session, resumed: true });
  assert.deepEqual(tried.splice(0), ['sse']);

  // Lost, and SSE is refused now: the whole order is tried again, and long polling resumes the same session.
  sseWorks = false;
  await server.publish('news:carry-over', 'while switching');
  reconnected = nextEvent(client, 'connected');
  await waitUntil(async () => (await server.drop(session)) === 204, 'the SSE connection to drop');
  assert.deepEqual(await reconnected, { transport: 'longpoll', session, resumed: true });
  assert.deepEqual(tried.splice(0), ['sse', 'websocket', 'longpoll']);
  await server.publish('news:carry-over', 'after switching');
  await waitUntil(() => got.length === 2, 'both publications');
  assert.deepEqual(got, ['while switching', 'after switching']);
  assert.equal(client.sessionId, session);
});
