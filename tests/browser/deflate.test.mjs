// permessage-deflate interop: Debian's Chromium and the npm `ws` client against the Tidings codec, in both server
// modes. Each checks the negotiated extension in the handshake response, round-trips messages, and reads the
// server's counters to prove that messages were compressed in both directions.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { startExample, launchBrowser } from './support.mjs';

const servers = {};
let browser;
before(async () => {
  for (const mode of ['dedicated', 'shared']) servers[mode] = await startExample('ws-echo', { args: [mode, '127.0.0.1:0'] });
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  for (const server of Object.values(servers)) await server.stop();
});

const stats = async (mode) => (await fetch(`${servers[mode].url}/stats`)).json();
const wsUrl = (mode, path = '/') => servers[mode].url.replace('http:', 'ws:') + path;
// Messages worth compressing: a JSON document and a long repetitive string.
const messages = [
  JSON.stringify({ symbol: 'AAPL', book: Array.from({ length: 40 }, (_, i) => ({ price: 187 + i / 100, size: 100 * i })) }),
  'tidings '.repeat(12500),
  'é€😀'.repeat(300),
];

for (const mode of ['dedicated', 'shared']) {
  test(`Chromium negotiates permessage-deflate and round-trips messages (${mode})`, async () => {
    const page = await browser.newPage();
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Network.enable');
    const handshake = new Promise((resolve) => cdp.on('Network.webSocketHandshakeResponseReceived', (e) => resolve(e.response)));
    const before = await stats(mode);
    const result = await page.evaluate(async ({ url, messages }) => {
      const ws = new WebSocket(url);
      await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = reject; });
      const echoes = [];
      const done = new Promise((resolve) => { ws.onmessage = (e) => { echoes.push(e.data); if (echoes.length === messages.length) resolve(); }; });
      for (const m of messages) ws.send(m);
      await done;
      ws.close(1000);
      return { extensions: ws.extensions, echoes };
    }, { url: wsUrl(mode), messages });
    const response = await handshake;
    const header = Object.entries(response.headers).find(([k]) => k.toLowerCase() === 'sec-websocket-extensions')?.[1] ?? '';
    assert.match(header, /^permessage-deflate/);
    assert.equal(/server_no_context_takeover/.test(header), mode === 'shared');
    assert.match(result.extensions, /permessage-deflate/);
    assert.deepEqual(result.echoes, messages);
    const after = await stats(mode);
    assert.ok(after.compressed_messages_received - before.compressed_messages_received >= messages.length, 'Chromium compressed what it sent');
    assert.ok(after.compressed_messages_sent - before.compressed_messages_sent >= messages.length, 'the server compressed what it sent');
    await page.close();
  });

  test(`Chromium runs a Tidings session over a compressed connection (${mode})`, async () => {
    const page = await browser.newPage();
    const reply = await page.evaluate(async ({ url, data }) => {
      const ws = new WebSocket(url);
      const frames = [];
      const next = () => new Promise((resolve) => { const wait = () => frames.length ? resolve(frames.shift()) : setTimeout(wait, 5); wait(); });
      ws.onmessage = (e) => frames.push(JSON.parse(e.data));
      await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onclose = (e) => reject(new Error(`closed ${e.code}`)); });
      const welcome = await next();
      ws.send(JSON.stringify({ type: 'subscribe', id: 1, topic: 'echo:1' }));
      await next();
      ws.send(JSON.stringify({ type: 'message', id: 2, topic: 'echo:1', data }));
      const answer = await next();
      ws.close(1000);
      return { welcome: welcome.type, extensions: ws.extensions, answer };
    }, { url: wsUrl(mode, '/realtime/ws'), data: { text: messages[0] } });
    assert.equal(reply.welcome, 'welcome');
    assert.match(reply.extensions, /permessage-deflate/);
    assert.equal(reply.answer.id, 2);
    assert.deepEqual(reply.answer.data, { text: messages[0] });
    await page.close();
  });

  test(`npm ws with perMessageDeflate round-trips messages (${mode})`, async () => {
    const before = await stats(mode);
    const ws = new WebSocket(wsUrl(mode), { perMessageDeflate: { threshold: 0 } });
    // `upgrade` and `open` fire back to back: listen for both before waiting on either.
    const upgraded = new Promise((resolve) => ws.once('upgrade', (res) => resolve(res.headers['sec-websocket-extensions'] ?? '')));
    const opened = new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
    const [header] = await Promise.all([upgraded, opened]);
    assert.match(header, /^permessage-deflate/);
    assert.equal(/server_no_context_takeover/.test(header), mode === 'shared');
    const echoes = [];
    const done = new Promise((resolve) => ws.on('message', (data, binary) => {
      echoes.push(binary ? Buffer.from(data) : data.toString());
      if (echoes.length === messages.length + 1) resolve();
    }));
    for (const m of messages) ws.send(m);
    const binary = Buffer.from(Array.from({ length: 5000 }, (_, i) => i % 7));
    ws.send(binary, { binary: true });
    await done;
    assert.deepEqual(echoes.slice(0, messages.length), messages);
    assert.ok(binary.equals(echoes[messages.length]));
    ws.close(1000);
    await new Promise((resolve) => ws.once('close', resolve));
    const after = await stats(mode);
    assert.ok(after.compressed_messages_received - before.compressed_messages_received >= messages.length + 1);
    assert.ok(after.compressed_messages_sent - before.compressed_messages_sent >= messages.length + 1);
  });
}
