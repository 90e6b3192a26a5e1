// The browser bundle (the IIFE the server serves at /realtime/tidings.js) in a page-like sandbox that has nothing
// but XMLHttpRequest: no WebSocket, no EventSource, no fetch. The client must pick long polling and work over it.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { readFileSync } from 'node:fs';
import vm from 'node:vm';
import { nextEvent, startServer, waitUntil, within } from './support.mjs';

const bundle = readFileSync(new URL('../dist/tidings.browser.js', import.meta.url), 'utf8');
const agent = new http.Agent({ keepAlive: true });

/** Just enough XMLHttpRequest, over node:http, for the client's long polling and sending. */
class NodeXMLHttpRequest {
  constructor() {
    this.readyState = 0;
    this.status = 0;
    this.responseText = '';
    this.timeout = 0;
    this.withCredentials = false;
    this.onreadystatechange = null;
    this.headers = {};
    this.finished = false;
  }
  open(method, url) {
    this.method = method;
    this.url = url;
    this.readyState = 1;
  }
  setRequestHeader(name, value) {
    this.headers[name] = value;
  }
  send(body) {
    const request = http.request(this.url, { method: this.method, headers: this.headers, agent }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk) => (text += chunk));
      response.on('close', () => {
        // A response cut short (the server dropped the connection) is a network error: status 0.
        if (response.complete) this.finish(response.statusCode, text);
        else this.finish(0, '');
      });
    });
    request.on('error', () => this.finish(0, ''));
    this.request = request;
    request.end(body ?? undefined);
  }
  abort() {
    this.request?.destroy();
    this.finish(0, '');
  }
  finish(status, text) {
    if (this.finished) return;
    this.finished = true;
    this.status = status;
    this.responseText = text;
    this.readyState = 4;
    this.onreadystatechange?.({});
  }
}

/** Runs `code` as a page script would, with `XMLHttpRequest` as the only network API; returns the page's globals. */
function page(code) {
  const globals = { XMLHttpRequest: NodeXMLHttpRequest, setTimeout, clearTimeout, URL, console };
  vm.createContext(globals);
  vm.runInContext(code, globals);
  return globals;
}

let server;
before(async () => {
  server = await startServer();
});
after(async () => {
  agent.destroy();
  await server?.stop();
});

test('the served /realtime/tidings.js defines the Tidings global', { timeout: 10_000 }, async () => {
  const response = await fetch(`${server.url}/tidings.js`);
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type'), /javascript/);
  const { Tidings } = page(await response.text());
  assert.equal(typeof Tidings.Client, 'function');
  assert.equal(typeof Tidings.connect, 'function');
  assert.equal(typeof Tidings.TidingsError, 'function');
});

test('with only XMLHttpRequest, the bundle long-polls: subscribe, publish, resume', { timeout: 15_000 }, async (t) => {
  const { Tidings } = page(bundle);
  const client = Tidings.connect(server.url, { backoff: { minDelay: 20, maxDelay: 200 }, requestTimeout: 5_000 });
  t.after(() => client.close());
  const connected = await nextEvent(client, 'connected');
  assert.equal(connected.transport, 'longpoll');
  const got = [];
  const sub = client.subscribe('open:page', (pub) => got.push(pub.data));
  await within(sub.ready, 'the subscription');
  await server.publish('open:page', 'from the server');
  const position = await within(client.publish('open:page', 'from the page'), 'the publish');
  assert.equal(position.offset, 2);
  await waitUntil(() => got.length === 2, 'both publications');

  const session = client.sessionId;
  const resumed = nextEvent(client, 'connected');
  await waitUntil(async () => (await server.drop(session)) === 204, 'the poll to drop');
  // Objects made in the sandbox have its prototypes: compare fields, not structures.
  const again = await resumed;
  assert.equal(again.transport, 'longpoll');
  assert.equal(again.session, session);
  assert.equal(again.resumed, true);
  await server.publish('open:page', 'after the drop');
  await waitUntil(() => got.length === 3, 'the publication after the drop');
  assert.deepEqual(got, ['from the server', 'from the page', 'after the drop']);
  await client.close();
  await waitUntil(async () => (await server.sessions()) === 0, 'the session to end');
});
