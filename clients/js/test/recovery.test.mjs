// A session that outlived its resume window: the client starts a new one, subscribes and joins again from the
// last position it saw, recovers what it missed from history, and is told when it cannot (a gap). Against a demo
// server with a short resume window, once per transport.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TRANSPORTS, clientFor, nextEvent, startServer, switchableNetwork, waitUntil, within } from './support.mjs';

const RESUME_WINDOW_MS = 300;
const HISTORY_SIZE = 256; // the demo hub's default per-topic history
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

for (const transport of TRANSPORTS) {
  describe(transport, { timeout: 30_000 }, () => {
    let server;
    before(async () => {
      server = await startServer({ resumeWindowMs: RESUME_WINDOW_MS });
    });
    after(() => server?.stop());

    /** Takes the client off the network and waits until the server forgot its session (`others` stay). */
    async function outlive(client, network, others = 0) {
      network.offline = true;
      const disconnected = nextEvent(client, 'disconnected');
      const deadline = Date.now() + 3_000;
      while ((await server.drop(client.sessionId)) !== 204) {
        if (Date.now() > deadline) throw new Error('could not drop the connection');
        await sleep(5);
      }
      await disconnected;
      await waitUntil(async () => (await server.sessions()) === others, 'the session to expire', 3_000);
    }

    test('a new session re-subscribes from the last position and recovers; missing too much is a gap', async (t) => {
      const network = switchableNetwork();
      const client = clientFor(server, transport, { network });
      t.after(() => client.close());
      const topic = `news:recover-${transport}`;
      const got = [];
      const gaps = [];
      const sub = client.subscribe(topic, (pub) => got.push(pub.data.n));
      sub.on('gap', (gap) => gaps.push(gap));
      await within(sub.ready, 'the subscription');
      await server.publish(topic, { n: 1 });
      await waitUntil(() => got.length === 1, 'the first publication');
      const first = client.sessionId;

      await outlive(client, network);
      for (let n = 2; n <= 6; n++) await server.publish(topic, { n });
      const session = nextEvent(client, 'session');
      const resubscribed = nextEvent(sub, 'subscribed');
      network.offline = false;
      assert.deepEqual(await session, { session: client.sessionId, previous: first });
      assert.notEqual(client.sessionId, first);
      const again = await resubscribed;
      assert.equal(again.resubscribed, true);
      assert.equal(again.gap, false);
      await waitUntil(() => got.length === 6, 'the five missed publications');
      assert.deepEqual(got, [1, 2, 3, 4, 5, 6]);
      assert.deepEqual(gaps, []);

      // More than the topic retains: the client recovers what is left and is told about the rest.
      const last = sub.position;
      await outlive(client, network);
      const missed = HISTORY_SIZE + 44;
      for (let n = 7; n < 7 + missed; n++) await server.publish(topic, { n });
      const gap = nextEvent(sub, 'gap');
      network.offline = false;
      const told = await gap;
      assert.deepEqual(told.since, last);
      assert.equal(told.position.offset, last.offset + missed);
      // Exactly the publications that fell out of the history.
      assert.deepEqual(told.missed, { from: last.offset + 1, to: last.offset + missed - HISTORY_SIZE });
      await waitUntil(() => got.at(-1) === 6 + missed, 'the retained publications', 5_000);
      const recovered = got.slice(6);
      assert.equal(recovered.length, HISTORY_SIZE, 'exactly the retained publications');
      assert.deepEqual(recovered, Array.from({ length: HISTORY_SIZE }, (_, i) => 7 + missed - HISTORY_SIZE + i));
    });

    test('a room is re-joined on a new session, with presence and the publications it missed', async (t) => {
      const network = switchableNetwork();
      const ann = clientFor(server, transport, { network });
      const bob = clientFor(server, 'websocket');
      t.after(() => Promise.all([ann.close(), bob.close()]));
      const topic = `room:recover-${transport}`;
      const room = await within(ann.join(topic, { nick: 'ann' }), 'ann joining');
      const heard = [];
      room.on('publication', (pub) => heard.push(pub.data));
      await server.publish(topic, 'before');
      await waitUntil(() => heard.length === 1, 'the first publication');

      await within(bob.ready(), 'bob connecting');
      await outlive(ann, network, 1);
      await within(bob.join(topic, { nick: 'bob' }), 'bob joining');
      await server.publish(topic, 'while away');
      const rejoined = nextEvent(room, 'joined');
      const bobSeen = nextEvent(room, 'join');
      network.offline = false;
      const event = await rejoined;
      assert.equal(event.rejoined, true);
      assert.deepEqual(event.reply, { hello: 'ann' });
      assert.deepEqual((await bobSeen).meta, { nick: 'bob' });
      assert.deepEqual(room.presence.map((m) => m.meta.nick), ['bob', 'ann']);
      assert.equal(room.presence[1].session, ann.sessionId);
      await waitUntil(() => heard.length === 2, 'the missed publication');
      assert.deepEqual(heard, ['before', 'while away']);
      assert.equal(room.state, 'joined');
    });
  });
}
