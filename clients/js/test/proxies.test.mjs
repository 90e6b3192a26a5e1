// Transport selection behind hostile proxies (tests/src/hostile_proxy.rs): the client races its transports, so it
// is connected within 1.5 s whatever the proxy refuses, hangs or buffers; and a client that had to settle for long
// polling moves to WebSocket once the proxy lets it through, without losing or doubling a message.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { EventSource } from 'eventsource';
import { Client } from '../dist/index.js';
import { nextEvent, startServer, waitUntil, within } from './support.mjs';
import { PROFILES, startHostileProxy } from '../../../tests/support/hostile-proxy.mjs';

/** What "a person does not notice" means here, on a loaded machine. */
const CONNECT_BUDGET_MS = 1_500;

let server;
before(async () => {
  server = await startServer();
});
after(() => server?.stop());

const base = { WebSocket, EventSource, requestTimeout: 5_000, backoff: { minDelay: 20, maxDelay: 200 }, rememberTransport: false };

for (const [name, profile] of Object.entries(PROFILES)) {
  test(`${name}: connected within ${CONNECT_BUDGET_MS} ms on ${profile.transport}, and publications flow`, { timeout: 15_000 }, async (t) => {
    const proxy = await startHostileProxy(server.url, profile.settings);
    t.after(() => proxy.stop());
    const started = Date.now();
    const client = new Client(proxy.url, base);
    t.after(() => client.close());
    const connected = await nextEvent(client, 'connected', 5_000);
    const elapsed = Date.now() - started;
    assert.equal(connected.transport, profile.transport);
    assert.ok(elapsed <= CONNECT_BUDGET_MS, `connected after ${elapsed} ms`);
    const got = [];
    const sub = client.subscribe(`news:proxy-${profile.transport}`, (pub) => got.push(pub.data));
    await within(sub.ready, 'the subscription');
    await server.publish(`news:proxy-${profile.transport}`, 'through the proxy');
    await waitUntil(() => got.length === 1, 'the publication');
    assert.equal(client.transport, profile.transport, 'no upgrade was possible');
  });
}

test('a client on long polling moves to WebSocket once the proxy lets it through, losing and doubling nothing', { timeout: 30_000 }, async (t) => {
  const proxy = await startHostileProxy(server.url, PROFILES['SSE buffered'].settings);
  t.after(() => proxy.stop());
  const client = new Client(proxy.url, { ...base, upgrade: { delay: 200, maxDelay: 800 } });
  t.after(() => client.close());
  assert.equal((await nextEvent(client, 'connected', 5_000)).transport, 'longpoll');
  const states = [];
  client.on('state', (change) => states.push(change.state));
  const session = client.sessionId;
  const topic = 'news:upgrade-numbered';
  const got = [];
  const sub = client.subscribe(topic, (pub) => got.push(pub.data));
  await within(sub.ready, 'the subscription');

  // Numbered publications all along; the proxy lets WebSockets through after a while.
  let sent = 0;
  let publishing = true;
  const publisher = (async () => {
    while (publishing && sent < 5_000) {
      await server.publish(topic, ++sent);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  })();
  t.after(() => {
    publishing = false;
    return publisher;
  });
  await waitUntil(() => got.length >= 20, 'publications over long polling', 10_000);
  // A probe round that began before the change may move it to SSE first (it flows now too), then to WebSocket.
  const upgraded = nextEvent(client, 'transport', 15_000, (change) => change.transport === 'websocket');
  await proxy.set('transparent');
  const change = await upgraded;
  assert.ok(['longpoll', 'sse'].includes(change.previous), `moved from ${change.previous}`);
  assert.equal(change.session, session);
  assert.equal(change.resumed, true);
  const atUpgrade = sent;
  await waitUntil(() => sent >= atUpgrade + 20, 'publications after the upgrade', 10_000);
  publishing = false;
  await publisher;
  await waitUntil(() => got.length >= sent, `all ${sent} publications (got ${got.length})`, 10_000);
  assert.deepEqual(got, Array.from({ length: sent }, (_, i) => i + 1), 'each publication once, in order');
  assert.equal(client.transport, 'websocket');
  assert.equal(client.sessionId, session);
  assert.deepEqual(states, [], 'the application saw no state change, only the transport change');
});

test('the transport that worked is remembered per endpoint: the next client starts with it', { timeout: 15_000 }, async (t) => {
  const proxy = await startHostileProxy(server.url, PROFILES['upgrades hanging, SSE buffered'].settings);
  t.after(() => proxy.stop());
  const options = { ...base, rememberTransport: 'memory', upgrade: false };
  const first = new Client(proxy.url, options);
  t.after(() => first.close());
  assert.equal((await nextEvent(first, 'connected', 5_000)).transport, 'longpoll');
  await first.close();

  const second = new Client(proxy.url, options);
  t.after(() => second.close());
  const tried = [];
  second.on('state', (change) => change.state === 'connecting' && tried.push(change.transport));
  const started = Date.now();
  assert.equal((await nextEvent(second, 'connected', 5_000)).transport, 'longpoll');
  assert.deepEqual(tried, ['longpoll'], 'long polling went first, and won before the others started');
  assert.ok(Date.now() - started < 300, 'no race delay was spent');
});

test('a probe whose connection takes the session over and then delivers nothing gives the session back', { timeout: 30_000 }, async (t) => {
  // Upgrades pass but hold everything after the 101: the probe takes the session over and its welcome never comes.
  const proxy = await startHostileProxy(server.url, ['upgrades=refuse', 'buffer=262144']);
  t.after(() => proxy.stop());
  const client = new Client(proxy.url, { ...base, transports: ['websocket', 'longpoll'], upgrade: { delay: 200, maxDelay: 60_000 } });
  t.after(() => client.close());
  assert.equal((await nextEvent(client, 'connected', 5_000)).transport, 'longpoll');
  const session = client.sessionId;
  const topic = 'news:stuck-probe';
  const got = [];
  const sub = client.subscribe(topic, (pub) => got.push(pub.data));
  await within(sub.ready, 'the subscription');
  const failed = nextEvent(client, 'transportFailed', 15_000, (event) => /delivered nothing/.test(event.reason));
  await proxy.set('upgrades=allow', 'stall-after=0');
  await failed;
  await proxy.set('upgrades=refuse');
  for (let i = 1; i <= 5; i++) await server.publish(topic, i);
  await waitUntil(() => got.length === 5, 'the publications, back on long polling', 10_000);
  assert.deepEqual(got, [1, 2, 3, 4, 5]);
  assert.equal(client.sessionId, session);
  assert.equal(client.transport, 'longpoll');
});

test('a stream a proxy holds after its first bytes is detected by its missing heartbeats, and the client moves down', { timeout: 40_000 }, async (t) => {
  const beating = await startServer({ heartbeatMs: 300 });
  t.after(() => beating.stop());
  // Upgrades and event streams open, then everything after their first 400 bytes is held.
  const proxy = await startHostileProxy(beating.url, ['upgrades=allow', 'stall-after=400']);
  t.after(() => proxy.stop());
  const client = new Client(proxy.url, { ...base, upgrade: false });
  t.after(() => client.close());
  const failures = [];
  client.on('transportFailed', (failure) => failures.push(failure));
  assert.equal((await nextEvent(client, 'connected', 5_000)).transport, 'websocket');
  const session = client.sessionId;
  const topic = 'news:held-stream';
  const got = [];
  client.subscribe(topic, (pub) => got.push(pub.data));
  for (let n = 1; n <= 20; n++) await beating.publish(topic, n);
  // WebSocket stalls (no ping within 2 x 300 ms + 2 s), then SSE, which is held the same way; long polling flows.
  await waitUntil(() => client.transport === 'longpoll', 'the client to move down to long polling', 25_000);
  await waitUntil(() => got.length === 20, `all 20 publications (got ${got.length})`, 10_000);
  assert.deepEqual(got, Array.from({ length: 20 }, (_, i) => i + 1), 'each publication once, in order');
  assert.equal(client.sessionId, session, 'the session went on');
  const stalled = failures.filter((failure) => /^stalled/.test(failure.reason)).map((failure) => failure.transport);
  assert.deepEqual(stalled, ['websocket', 'sse'], 'each stall reported as such');
});
