// The client's protocol logic against a scripted server (a fake WebSocket the test drives frame by frame):
// exactly-once processing, acknowledgements, resume, new sessions, close codes, requests, presence. These run
// without the demo server; the end-to-end files check the same behaviour against the real one.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client, TidingsError, shouldReconnect } from '../dist/index.js';
import { Backoff } from '../dist/backoff.js';
import { Endpoints } from '../dist/url.js';
import { parseServerFrame, parseFrameBatch } from '../dist/protocol.js';
import { nextEvent, waitUntil, within } from './support.mjs';

/** Every test is bounded: a client that never answers fails the test instead of hanging the run. */
const spec = (name, fn) => test(name, { timeout: 5_000 }, fn);
const tick = (ms = 0) => new Promise((resolve) => setTimeout(resolve, ms));

/** A fake WebSocket class, and the server side of every socket the client opens with it. */
function scriptedServer() {
  const sockets = [];
  const waiting = [];
  class FakeWebSocket {
    constructor(url) {
      this.url = new URL(url);
      this.readyState = 0;
      this.sent = [];
      this.closedWith = undefined;
      this.onopen = this.onmessage = this.onclose = this.onerror = null;
      sockets.push(this);
      waiting.shift()?.(this);
    }
    send(text) {
      assert.equal(this.readyState, 1, 'the client sent on a socket that is not open');
      this.sent.push(JSON.parse(text));
    }
    close(code = 1005) {
      if (this.readyState === 3) return;
      this.closedWith = code;
      this.readyState = 3;
      setTimeout(() => this.onclose?.({ code, reason: '' }), 0);
    }
    // ---- the server's side ----
    welcome(session, resumed = false) {
      this.readyState = 1;
      this.onopen?.({});
      this.deliver({ type: 'welcome', protocol: 1, session, resumed, resume_window_ms: 120000 });
    }
    deliver(frame) {
      this.onmessage?.({ data: JSON.stringify(frame) });
    }
    drop(code = 1006, reason = '') {
      this.readyState = 3;
      this.onclose?.({ code, reason });
    }
    frames(type) {
      return this.sent.filter((frame) => frame.type === type);
    }
  }
  return {
    WebSocket: FakeWebSocket,
    sockets,
    /** The next socket the client opens. */
    next(timeout = 2_000) {
      return within(new Promise((resolve) => waiting.push(resolve)), 'the client to open a socket', timeout);
    },
  };
}

/** A client of the scripted server, closed when test `t` ends whatever happens (a failed assertion included). */
function newClient(t, server, options = {}) {
  const client = new Client('http://tidings.test/realtime', {
    transports: ['websocket'],
    WebSocket: server.WebSocket,
    EventSource: null,
    XMLHttpRequest: null,
    fetch: null,
    backoff: { minDelay: 1, maxDelay: 5 },
    ackInterval: 20,
    ...options,
  });
  t.after(() => client.close());
  return client;
}

const S1 = 'a'.repeat(32);
const S2 = 'b'.repeat(32);

async function connected(t, server, options) {
  const client = newClient(t, server, options);
  const socket = await server.next();
  socket.welcome(S1);
  return { client, socket };
}

/** Answers the client's latest request of `type` with `data`, as frame `seq`. */
function answer(socket, type, seq, data) {
  const request = socket.frames(type).at(-1);
  assert.ok(request, `the client sent no ${type}`);
  socket.deliver({ seq, type: 'reply', id: request.id, data });
  return request;
}

spec('connects to the ws endpoint derived from the http base, with v=1 and heartbeats', async (t) => {
  const server = scriptedServer();
  const client = newClient(t, server);
  const socket = await server.next();
  assert.equal(socket.url.href, 'ws://tidings.test/realtime/ws?v=1&heartbeat=1');
  const state = nextEvent(client, 'connected');
  socket.welcome(S1);
  assert.deepEqual(await state, { transport: 'websocket', session: S1, resumed: false });
  assert.equal(client.sessionId, S1);
  assert.equal(client.transport, 'websocket');
  await client.close();
  assert.equal(socket.closedWith, 1000, 'close() ends the session with a close frame 1000');
});

spec('processes every seq exactly once and acknowledges within ackInterval', async (t) => {
  const server = scriptedServer();
  const { client, socket } = await connected(t, server);
  const sub = client.subscribe('news:a');
  const got = [];
  sub.on('publication', (pub) => got.push(pub.data));
  answer(socket, 'subscribe', 1, { position: { offset: 0, epoch: 'e' }, gap: false });
  for (const seq of [2, 3, 3, 2, 4]) {
    socket.deliver({ seq, type: 'pub', topic: 'news:a', offset: seq - 1, epoch: 'e', data: seq });
  }
  assert.deepEqual(got, [2, 3, 4]);
  assert.deepEqual(await sub.ready, { offset: 0, epoch: 'e' });
  await waitUntil(() => socket.frames('ack').length > 0, 'an ack');
  assert.deepEqual(socket.frames('ack'), [{ type: 'ack', seq: 4 }]);
  await client.close();
});

spec('acknowledges at once after 256 unacknowledged frames', async (t) => {
  const server = scriptedServer();
  const { client, socket } = await connected(t, server, { ackInterval: 1000 });
  client.subscribe('news:a');
  answer(socket, 'subscribe', 1, { position: { offset: 0, epoch: 'e' }, gap: false });
  for (let seq = 2; seq <= 300; seq++) {
    socket.deliver({ seq, type: 'pub', topic: 'news:a', offset: seq - 1, epoch: 'e', data: seq });
  }
  assert.deepEqual(socket.frames('ack'), [{ type: 'ack', seq: 256 }]);
  await client.close();
});

spec('a seq gap makes the client resume from the last frame it processed', async (t) => {
  const server = scriptedServer();
  const { client, socket } = await connected(t, server);
  const errors = [];
  client.on('error', (error) => errors.push(error));
  socket.deliver({ seq: 1, type: 'push', topic: 'x', data: 1 });
  socket.deliver({ seq: 3, type: 'push', topic: 'x', data: 3 });
  const next = await server.next();
  assert.equal(next.url.searchParams.get('session'), S1);
  assert.equal(next.url.searchParams.get('ack'), '1');
  assert.equal(errors.length, 1);
  await client.close();
});

spec('resumes with session and ack after a lost connection, and keeps pending requests', async (t) => {
  const server = scriptedServer();
  const { client, socket } = await connected(t, server);
  const states = [];
  client.on('state', (change) => states.push(change.state));
  client.subscribe('calc');
  answer(socket, 'subscribe', 1, { position: { offset: 0, epoch: 'e' }, gap: false });
  const reply = client.request('calc', { add: [1, 2] });
  await tick();
  const request = socket.frames('message')[0];
  socket.drop(1006);
  const second = await server.next();
  assert.equal(second.url.searchParams.get('session'), S1);
  assert.equal(second.url.searchParams.get('ack'), '1');
  second.welcome(S1, true);
  // The server replays what came after the ack, the old seq 1 included once more by a buggy proxy, say.
  second.deliver({ seq: 1, type: 'reply', id: 999 });
  second.deliver({ seq: 2, type: 'reply', id: request.id, data: 3 });
  assert.equal(await reply, 3);
  assert.deepEqual(states, ['disconnected', 'reconnecting', 'connecting', 'connected']);
  assert.equal(second.frames('subscribe').length, 0, 'a resumed session keeps its subscriptions');
  await client.close();
});

spec('a gap frame on a resumed session tells the subscription which offsets it missed', async (t) => {
  const server = scriptedServer();
  const { client, socket } = await connected(t, server);
  const sub = client.subscribe('news:a');
  answer(socket, 'subscribe', 1, { position: { offset: 4, epoch: 'e' }, gap: false });
  const gaps = [];
  sub.on('gap', (gap) => gaps.push(gap));
  socket.deliver({ seq: 2, type: 'pub', topic: 'news:a', offset: 5, epoch: 'e', data: 'five' });
  // The client was away and its session's queue full: offsets 6 to 9 were dropped, and it is told so, in order.
  socket.deliver({ seq: 3, type: 'gap', topic: 'news:a', epoch: 'e', missed: { from: 6, to: 9 } });
  await tick();
  assert.deepEqual(gaps, [
    { since: { offset: 5, epoch: 'e' }, position: { offset: 9, epoch: 'e' }, missed: { from: 6, to: 9 } },
  ]);
  await client.close();
});

spec('a new session fails requests in flight, re-subscribes with since, then sends what was buffered', async (t) => {
  const server = scriptedServer();
  const { client, socket } = await connected(t, server);
  const sub = client.subscribe('news:a');
  answer(socket, 'subscribe', 1, { position: { offset: 4, epoch: 'e1' }, gap: false });
  socket.deliver({ seq: 2, type: 'pub', topic: 'news:a', offset: 5, epoch: 'e1', data: 'five' });
  const inFlight = client.publish('open:x', 1);
  await tick();
  socket.drop(1006);
  // Sent while disconnected: buffered, and sent on the new session after the re-subscription.
  const buffered = client.publish('open:x', 2);
  const sessions = [];
  client.on('session', (event) => sessions.push(event));
  const gaps = [];
  sub.on('gap', (gap) => gaps.push(gap));
  const second = await server.next();
  second.welcome(S2, false);
  await assert.rejects(inFlight, (error) => error instanceof TidingsError && error.code === 'session_lost');
  assert.deepEqual(sessions, [{ session: S2, previous: S1 }]);
  assert.deepEqual(
    second.sent.map((frame) => frame.type),
    ['subscribe', 'publish'],
  );
  assert.deepEqual(second.sent[0].since, { offset: 5, epoch: 'e1' });
  assert.equal(second.sent[1].data, 2);
  // The topic lost its history meanwhile: the subscription hears of the gap.
  answer(second, 'subscribe', 1, { position: { offset: 2, epoch: 'e2' }, gap: true });
  assert.deepEqual(gaps, [{ since: { offset: 5, epoch: 'e1' }, position: { offset: 2, epoch: 'e2' } }]);
  assert.deepEqual(sub.position, { offset: 2, epoch: 'e2' });
  second.deliver({ seq: 2, type: 'reply', id: second.sent[1].id, data: { position: { offset: 3, epoch: 'e2' } } });
  assert.deepEqual(await buffered, { offset: 3, epoch: 'e2' });
  await client.close();
});

spec('close codes that mean "give up" close the client and fail what waits', async (t) => {
  for (const code of [1000, 1002, 1003, 1007, 1009, 4500, 4501]) {
    const server = scriptedServer();
    const { client, socket } = await connected(t, server);
    const sub = client.subscribe('news:a');
    const pending = client.publish('open:x', 1);
    await tick();
    const closed = nextEvent(client, 'closed');
    socket.drop(code, 'bye');
    assert.deepEqual(await closed, { code, reason: 'bye' });
    assert.equal(client.state, 'closed');
    await assert.rejects(pending, (error) => error.code === 'closed' && error.closeCode === code);
    await assert.rejects(sub.ready, (error) => error.code === 'closed');
    await tick(20);
    assert.equal(server.sockets.length, 1, `no reconnect after ${code}`);
  }
});

spec('close codes that invite a reconnect reconnect', async (t) => {
  for (const code of [1001, 1005, 1006, 1011, 1012, 1013, 4000, 4001, 4499]) {
    const server = scriptedServer();
    const { client, socket } = await connected(t, server);
    socket.drop(code);
    const next = await server.next();
    assert.equal(next.url.searchParams.get('session'), S1, `reconnect after ${code}`);
    await client.close();
  }
  assert.equal(shouldReconnect(4500), false);
});

spec('a 4500 on a connection the client already replaced is ignored', async (t) => {
  const server = scriptedServer();
  const { client, socket } = await connected(t, server);
  socket.drop(1006);
  const second = await server.next();
  second.welcome(S1, true);
  socket.drop(4500, 'superseded');
  await tick(10);
  assert.equal(client.state, 'connected');
  assert.equal(server.sockets.length, 2);
  await client.close();
});

spec('a transport that sends no welcome within openTimeout is given up, and the next attempt follows', async (t) => {
  const server = scriptedServer();
  const client = newClient(t, server, { openTimeout: 30 });
  const failures = [];
  client.on('transportFailed', (event) => failures.push(event));
  const first = await server.next();
  const second = await server.next();
  assert.equal(first.readyState, 3, 'the silent socket was closed');
  assert.equal(failures[0].transport, 'websocket');
  second.welcome(S1);
  assert.equal(client.state, 'connected');
  await client.close();
});

spec('a request that could not be sent in time times out and is never sent later', async (t) => {
  const server = scriptedServer();
  const client = newClient(t, server);
  const first = await server.next();
  await assert.rejects(
    client.publish('open:x', 'late', { timeout: 20 }),
    (error) => error.code === 'timeout' && /not sent/.test(error.message),
  );
  first.welcome(S1);
  await tick();
  assert.equal(first.frames('publish').length, 0);
  await client.close();
});

spec('refusals reject with the server code; id-less errors are client errors', async (t) => {
  const server = scriptedServer();
  const { client, socket } = await connected(t, server);
  const sub = client.subscribe('secret:x');
  const failed = nextEvent(sub, 'error');
  const request = socket.frames('subscribe')[0];
  socket.deliver({ seq: 1, type: 'error', id: request.id, code: 'forbidden', message: 'no' });
  await assert.rejects(sub.ready, (error) => error instanceof TidingsError && error.code === 'forbidden');
  assert.equal((await failed).code, 'forbidden');
  assert.equal(sub.state, 'failed');
  // The topic is free again.
  const again = client.subscribe('secret:x');
  assert.equal(again.state, 'subscribing');
  const error = nextEvent(client, 'error');
  socket.deliver({ seq: 2, type: 'error', code: 'bad_frame', message: 'what' });
  assert.equal((await error).code, 'bad_frame');
  assert.throws(() => client.subscribe('secret:x'), (e) => e.code === 'invalid_state');
  await client.close();
});

spec('rooms: presence from the join reply, kept current by member events; events before the reply are kept', async (t) => {
  const server = scriptedServer();
  const { client, socket } = await connected(t, server);
  const joining = client.join('room:a', { nick: 'ann' });
  await tick();
  const join = socket.frames('join')[0];
  assert.deepEqual(join.data, { nick: 'ann' });
  const ann = { session: S1, meta: { nick: 'ann' } };
  const bob = { session: 'c'.repeat(32), meta: { nick: 'bob' } };
  // A publication may come before the reply.
  socket.deliver({ seq: 1, type: 'pub', topic: 'room:a', offset: 1, epoch: 'e', data: 'early' });
  socket.deliver({
    seq: 2,
    type: 'reply',
    id: join.id,
    data: { presence: [ann], position: { offset: 1, epoch: 'e' }, gap: false, reply: { hello: 'ann' } },
  });
  const room = await joining;
  const publications = [];
  const joins = [];
  const leaves = [];
  room.on('publication', (pub) => publications.push(pub.data));
  room.on('join', (member) => joins.push(member.meta.nick));
  room.on('leave', (member) => leaves.push(member.meta.nick));
  await tick(5);
  assert.deepEqual(publications, ['early']);
  assert.deepEqual(room.reply, { hello: 'ann' });
  assert.deepEqual(room.presence, [ann]);
  socket.deliver({ seq: 3, type: 'member_joined', topic: 'room:a', member: bob });
  assert.deepEqual(room.presence, [ann, bob]);
  socket.deliver({ seq: 4, type: 'member_left', topic: 'room:a', member: bob });
  assert.deepEqual(room.presence, [ann]);
  assert.deepEqual(joins, ['bob']);
  assert.deepEqual(leaves, ['bob']);
  const sent = room.send({ text: 'hi' });
  await tick();
  const message = socket.frames('message')[0];
  assert.deepEqual(message, { type: 'message', id: message.id, topic: 'room:a', data: { text: 'hi' } });
  socket.deliver({ seq: 5, type: 'reply', id: message.id });
  assert.equal(await sent, undefined);
  const left = room.leave();
  await tick();
  socket.deliver({ seq: 6, type: 'reply', id: socket.frames('leave')[0].id });
  await left;
  assert.equal(room.state, 'left');
  await client.close();
});

spec('a room re-joined on a new session reports who came and went meanwhile, not itself', async (t) => {
  const server = scriptedServer();
  const { client, socket } = await connected(t, server);
  const joining = client.join('room:a', { nick: 'ann' });
  await tick();
  const bob = { session: 'c'.repeat(32), meta: { nick: 'bob' } };
  const cat = { session: 'd'.repeat(32), meta: { nick: 'cat' } };
  answer(socket, 'join', 1, {
    presence: [{ session: S1, meta: { nick: 'ann' } }, bob],
    position: { offset: 0, epoch: 'e' },
    gap: false,
  });
  const room = await joining;
  const events = [];
  room.on('join', (m) => events.push(`+${m.meta.nick}`));
  room.on('leave', (m) => events.push(`-${m.meta.nick}`));
  socket.drop(1006);
  const second = await server.next();
  second.welcome(S2);
  assert.deepEqual(second.frames('join')[0].data, { nick: 'ann' });
  answer(second, 'join', 1, {
    presence: [cat, { session: S2, meta: { nick: 'ann' } }],
    position: { offset: 0, epoch: 'e' },
    gap: false,
  });
  await tick(5);
  assert.deepEqual(events, ['-bob', '+cat']);
  await client.close();
});

spec('unsubscribing before the subscribe was sent sends neither', async (t) => {
  const server = scriptedServer();
  const client = newClient(t, server);
  const socket = await server.next();
  const sub = client.subscribe('news:a');
  await sub.unsubscribe();
  await assert.rejects(sub.ready, (error) => error.code === 'closed');
  socket.welcome(S1);
  await tick();
  assert.deepEqual(socket.sent, []);
  await client.close();
});

spec('async iteration yields publications and ends when unsubscribed', async (t) => {
  const server = scriptedServer();
  const { client, socket } = await connected(t, server);
  const sub = client.subscribe('news:a');
  const seen = (async () => {
    const data = [];
    for await (const pub of sub) data.push(pub.data);
    return data;
  })();
  answer(socket, 'subscribe', 1, { position: { offset: 0, epoch: 'e' }, gap: false });
  for (let seq = 2; seq <= 4; seq++) {
    socket.deliver({ seq, type: 'pub', topic: 'news:a', offset: seq - 1, epoch: 'e', data: seq });
  }
  const done = sub.unsubscribe();
  await tick();
  socket.deliver({ seq: 5, type: 'reply', id: socket.frames('unsubscribe')[0].id });
  await done;
  assert.deepEqual(await within(seen, 'the iterator to end'), [2, 3, 4]);
  await client.close();
});

spec('backoff: full jitter under an exponentially growing, capped bound', () => {
  const backoff = new Backoff({ minDelay: 100, maxDelay: 1000 }, () => 1);
  assert.deepEqual([1, 2, 3, 4, 5, 6].map(() => backoff.next()), [100, 200, 400, 800, 1000, 1000]);
  backoff.reset();
  assert.equal(backoff.next(), 100);
  const zero = new Backoff({ minDelay: 100, maxDelay: 1000 }, () => 0);
  assert.equal(zero.next(), 0);
});

spec('endpoints keep the base path and query, and map http to ws', () => {
  const endpoints = new Endpoints('https://example.com/app/realtime/?token=abc');
  assert.equal(endpoints.url('ws', { v: 1 }), 'wss://example.com/app/realtime/ws?token=abc&v=1');
  assert.equal(
    endpoints.url('poll', { session: 's', ack: 4, v: undefined }),
    'https://example.com/app/realtime/poll?token=abc&session=s&ack=4',
  );
  assert.equal(new Endpoints('ws://h:1/rt').url('send'), 'http://h:1/rt/send');
  assert.throws(() => new Endpoints('ftp://h/rt'), TypeError);
});

spec('frames are validated before use', () => {
  assert.deepEqual(parseServerFrame('{"seq":3,"type":"reply","id":1}'), { type: 'reply', seq: 3, id: 1, data: undefined });
  assert.equal(parseServerFrame('{"seq":3,"type":"future_thing"}').type, 'unknown');
  assert.throws(() => parseServerFrame('{"type":"pub","seq":1}'), /pub without/);
  assert.throws(() => parseServerFrame('{"type":"reply","id":1}'), /without a seq/);
  assert.throws(() => parseServerFrame('not json'), /not valid JSON/);
  assert.throws(() => parseFrameBatch('{}'), /JSON array/);
  assert.equal(parseFrameBatch('[]').length, 0);
});

spec('the constructor refuses an environment with none of the transports', () => {
  assert.throws(
    () => new Client('http://h/rt', { WebSocket: null, EventSource: null, XMLHttpRequest: null, fetch: null }),
    /none of the transports/,
  );
  assert.throws(() => new Client('http://h/rt', { transports: ['carrier-pigeon'] }), /unknown transport/);
});
