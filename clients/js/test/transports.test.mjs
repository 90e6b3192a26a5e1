// The client against the real demo server, once per transport: connecting, subscriptions, publishing, rooms and
// presence, requests, refusals, resume across dropped connections, and buffering while disconnected.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TidingsError } from '../dist/index.js';
import { TRANSPORTS, clientFor, nextEvent, startServer, switchableNetwork, waitUntil, within } from './support.mjs';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Drops the session's connection, retrying while it has none at this instant (a long poll between polls). */
async function drop(server, client) {
  const deadline = Date.now() + 3_000;
  while (Date.now() < deadline) {
    if (client.state === 'connected' && (await server.drop(client.sessionId)) === 204) return;
    await sleep(5);
  }
  throw new Error(`could not drop the connection of ${client.sessionId}`);
}

for (const transport of TRANSPORTS) {
  describe(transport, { timeout: 30_000 }, () => {
    let server;
    before(async () => {
      server = await startServer();
    });
    after(() => server?.stop());

    /** A client on this transport, closed when the test ends. */
    const client = (t, options) => {
      const c = clientFor(server, transport, options);
      t.after(() => c.close());
      return c;
    };

    test('connects, says on which transport and session, and close() ends the session', async (t) => {
      const c = client(t);
      const states = [];
      c.on('state', (change) => states.push(change.state));
      const connected = await nextEvent(c, 'connected');
      assert.equal(connected.transport, transport);
      assert.match(connected.session, /^[0-9a-f]{32}$/);
      assert.equal(connected.resumed, false);
      assert.equal(c.transport, transport);
      assert.equal(c.sessionId, connected.session);
      assert.deepEqual(states, ['connecting', 'connected']);
      await waitUntil(async () => (await server.sessions()) === 1, 'the session to be counted');
      const closed = nextEvent(c, 'closed');
      await c.close();
      assert.deepEqual(await closed, { code: 1000, reason: 'client closed' });
      assert.equal(c.state, 'closed');
      await waitUntil(async () => (await server.sessions()) === 0, 'the server to end the session');
    });

    test('subscribes and receives publications, as events and by async iteration', async (t) => {
      const c = client(t);
      const topic = `news:sub-${transport}`;
      const before = await server.publish(topic, { n: 0 });
      const events = [];
      const sub = c.subscribe(topic, (pub) => events.push(pub));
      const iterated = (async () => {
        const seen = [];
        for await (const pub of sub) {
          seen.push(pub.data.n);
          if (seen.length === 3) break;
        }
        return seen;
      })();
      const position = await within(sub.ready, 'the subscription');
      assert.deepEqual(position, { offset: before.offset, epoch: before.epoch });
      assert.equal(sub.state, 'subscribed');
      for (const n of [1, 2, 3]) await server.publish(topic, { n });
      assert.deepEqual(await within(iterated, 'three publications'), [1, 2, 3]);
      assert.deepEqual(
        events.map((pub) => [pub.topic, pub.offset, pub.epoch, pub.data.n]),
        [1, 2, 3].map((n) => [topic, before.offset + n, before.epoch, n]),
      );
      assert.deepEqual(sub.position, { offset: before.offset + 3, epoch: before.epoch });
      await within(sub.unsubscribe(), 'the unsubscribe');
      await server.publish(topic, { n: 4 });
      await sleep(100);
      assert.equal(events.length, 3, 'nothing arrives after unsubscribe');
    });

    test('publishes where clients may, and is refused where they may not', async (t) => {
      const publisher = client(t);
      const reader = client(t);
      const topic = `open:pub-${transport}`;
      const got = [];
      await within(reader.subscribe(topic, (pub) => got.push(pub.data)).ready, 'the reader subscription');
      const position = await within(publisher.publish(topic, { text: 'hello' }), 'the publish');
      assert.equal(position.offset, 1);
      assert.equal(typeof position.epoch, 'string');
      await waitUntil(() => got.length === 1, 'the publication');
      assert.deepEqual(got, [{ text: 'hello' }]);
      await assert.rejects(publisher.publish(`news:pub-${transport}`, 1), (error) => {
        assert.ok(error instanceof TidingsError);
        assert.equal(error.code, 'forbidden');
        assert.equal(error.fromServer, true);
        return true;
      });
    });

    test('refusals are typed errors with the server code', async (t) => {
      const c = client(t);
      const secret = c.subscribe(`secret:${transport}`);
      const errorEvent = nextEvent(secret, 'error');
      await assert.rejects(secret.ready, (error) => error instanceof TidingsError && error.code === 'forbidden');
      assert.equal((await errorEvent).code, 'forbidden');
      assert.equal(secret.state, 'failed');
      await assert.rejects(c.subscribe('nowhere:x').ready, (error) => error.code === 'unknown_topic');
      await assert.rejects(c.subscribe('bad topic!').ready, (error) => error.code === 'bad_topic');
      await assert.rejects(c.request('calc', { add: [1, 2] }), (error) => error.code === 'not_subscribed');
      await assert.rejects(c.join(`room:refuse-${transport}`, { nick: 'banned' }), (error) => {
        assert.equal(error.code, 'forbidden');
        assert.equal(error.message, 'banned from this room');
        return true;
      });
      // The session carries on after refusals.
      await within(c.subscribe(`news:after-${transport}`).ready, 'a subscription after refusals');
    });

    test('requests get the handler reply, and time out when nothing can answer', async (t) => {
      const network = switchableNetwork();
      const c = client(t, { network });
      await within(c.subscribe('calc').ready, 'the calc subscription');
      assert.equal(await within(c.request('calc', { add: [2, 3] }), 'the sum'), 5);
      await assert.rejects(c.request('calc', { add: 'x' }), (error) => error.code === 'bad_payload');
      network.offline = true;
      const disconnected = nextEvent(c, 'disconnected');
      await drop(server, c);
      await disconnected;
      await assert.rejects(c.request('calc', { add: [1, 1] }, { timeout: 200 }), (error) => {
        assert.equal(error.code, 'timeout');
        assert.match(error.message, /not sent/);
        return true;
      });
      network.offline = false;
      await within(c.ready(), 'the reconnection');
      assert.equal(await within(c.request('calc', { add: [40, 2] }), 'the sum after resuming'), 42);
    });

    test('rooms: join reply, presence between two clients, publications, leave', async (t) => {
      const ann = client(t);
      const bob = client(t);
      const topic = `room:lobby-${transport}`;
      const annRoom = await within(ann.join(topic, { nick: 'ann' }), 'ann joining');
      assert.deepEqual(annRoom.reply, { hello: 'ann' });
      assert.deepEqual(annRoom.presence.map((m) => m.meta), [{ nick: 'ann' }]);
      assert.equal(annRoom.presence[0].session, ann.sessionId);
      const joined = nextEvent(annRoom, 'join');
      const bobRoom = await within(bob.join(topic, { nick: 'bob' }), 'bob joining');
      assert.deepEqual(bobRoom.reply, { hello: 'bob' });
      const member = await joined;
      assert.deepEqual(member.meta, { nick: 'bob' });
      assert.equal(member.session, bob.sessionId);
      assert.deepEqual(annRoom.presence.map((m) => m.meta.nick), ['ann', 'bob']);
      assert.deepEqual(bobRoom.presence.map((m) => m.meta.nick), ['ann', 'bob']);

      const heard = nextEvent(bobRoom, 'publication');
      await server.publish(topic, { text: 'to the room' });
      assert.deepEqual((await heard).data, { text: 'to the room' });
      // This room's handler takes no messages.
      await assert.rejects(annRoom.send({ text: 'hi' }), (error) => error.code === 'unsupported');

      const left = nextEvent(annRoom, 'leave');
      await within(bobRoom.leave(), 'bob leaving');
      assert.equal(bobRoom.state, 'left');
      assert.deepEqual((await left).meta, { nick: 'bob' });
      assert.deepEqual(annRoom.presence.map((m) => m.meta.nick), ['ann']);
      await assert.rejects(ann.join(topic, { nick: 'again' }), (error) => error.code === 'invalid_state');
    });

    test('history reads what the topic retained', async (t) => {
      const c = client(t);
      const topic = `news:history-${transport}`;
      const first = await server.publish(topic, 'a');
      await server.publish(topic, 'b');
      await server.publish(topic, 'c');
      const page = await within(c.history(topic, { since: first, limit: 10 }), 'the history');
      assert.deepEqual(page.publications.map((p) => [p.topic, p.offset, p.data]), [
        [topic, first.offset + 1, 'b'],
        [topic, first.offset + 2, 'c'],
      ]);
      assert.equal(page.gap, false);
      assert.deepEqual(page.position, { offset: first.offset + 2, epoch: first.epoch });
    });

    test('a frame over the server size limit closes the client with 1009 (give up)', async (t) => {
      const c = client(t);
      await within(c.ready(), 'the connection');
      const closed = nextEvent(c, 'closed');
      const reconnects = [];
      c.on('state', (change) => change.state === 'connecting' && reconnects.push(change));
      const big = c.publish(`open:big-${transport}`, 'x'.repeat(70_000));
      await assert.rejects(big, (error) => {
        assert.ok(error instanceof TidingsError);
        // Over WebSocket the server closes the connection. Over HTTP it answers the POST with 413 and closes the
        // session: whichever the client hears of first fails the publish.
        if (transport === 'websocket') assert.equal(error.code, 'closed');
        else assert.ok(['closed', 'rejected'].includes(error.code), error.code);
        if (error.code === 'closed') assert.equal(error.closeCode, 1009);
        return true;
      });
      assert.equal((await closed).code, 1009);
      assert.equal(c.state, 'closed');
      await sleep(100);
      assert.deepEqual(reconnects, [], 'no reconnect after 1009');
    });

    test('2,000 publications across dropped connections arrive exactly once, in order, on one session', async (t) => {
      const c = client(t);
      const topic = `news:resume-${transport}`;
      const got = [];
      const sub = c.subscribe(topic, (pub) => got.push(pub));
      await within(sub.ready, 'the subscription');
      const session = c.sessionId;
      let disconnects = 0;
      c.on('disconnected', () => disconnects++);
      let drops = 0;
      for (let n = 1; n <= 2000; n++) {
        await server.publish(topic, { n });
        if (n % 500 === 250) {
          await drop(server, c);
          drops++;
        }
      }
      await waitUntil(() => got.length >= 2000, 'all 2,000 publications', 20_000);
      await sleep(200); // room for duplicates to show
      assert.equal(got.length, 2000);
      got.forEach((pub, i) => {
        assert.equal(pub.data.n, i + 1, `publication ${i + 1} in order`);
        assert.equal(pub.offset, got[0].offset + i);
      });
      assert.equal(drops, 4);
      assert.equal(disconnects, drops, 'each drop was a lost connection');
      assert.equal(c.sessionId, session, 'every reconnect resumed the session');
      assert.equal(c.transport, transport);
    });

    test('a publish made while disconnected is buffered and sent once connected', async (t) => {
      const network = switchableNetwork();
      const c = client(t, { network });
      const reader = client(t);
      const topic = `open:buffer-${transport}`;
      const got = [];
      await within(reader.subscribe(topic, (pub) => got.push(pub.data)).ready, 'the reader');
      await within(c.ready(), 'the connection');
      network.offline = true;
      const disconnected = nextEvent(c, 'disconnected');
      await drop(server, c);
      await disconnected;
      const published = c.publish(topic, 'sent while offline');
      await sleep(300);
      assert.deepEqual(got, [], 'nothing went out while disconnected');
      assert.notEqual(c.state, 'connected');
      network.offline = false;
      const position = await within(published, 'the buffered publish');
      assert.equal(position.offset, 1);
      await waitUntil(() => got.length === 1, 'the buffered publication');
      assert.deepEqual(got, ['sent while offline']);
    });
  });
}
