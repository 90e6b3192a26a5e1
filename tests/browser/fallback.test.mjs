// The chat example in Chromium behind hostile proxies (tests/src/hostile_proxy.rs): whatever the proxy refuses,
// hangs or buffers, the page is connected within 1.5 s and chats; on a direct connection it is on WebSocket; and a
// page that had to start on long polling moves to WebSocket once the proxy lets it through, with every numbered
// message shown exactly once, in order.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startExample, launchBrowser } from './support.mjs';
import { PROFILES, startHostileProxy } from '../support/hostile-proxy.mjs';

/** What "a person does not notice" means here, on a loaded machine: from pressing Enter to connected. */
const CONNECT_BUDGET_MS = 1_500;

let app, browser;
before(async () => { app = await startExample('chat'); browser = await launchBrowser(); });
after(async () => { await browser?.close(); await app?.stop(); });

/** Opens the chat at `base` as `nick`; resolves with the page and how long connecting took. */
async function enter(base, nick, t) {
  const context = await browser.newContext();
  t.after(() => context.close());
  const page = await context.newPage();
  await page.goto(base);
  await page.fill('#nick', nick);
  const started = Date.now();
  await page.press('#nick', 'Enter');
  await page.waitForSelector('#status.up', { timeout: 10_000 });
  const elapsed = Date.now() - started;
  await page.waitForFunction(() => document.querySelectorAll('#rooms li').length === 3);
  return { page, elapsed };
}

const transportOf = (page) => page.evaluate(() => window.chat.client.transport);
const logHas = (page, text) => page.waitForFunction((t) => document.querySelector('#log').textContent.includes(t), text);

async function say(page, text) {
  await page.fill('#text', text);
  await page.press('#text', 'Enter');
}

for (const [index, [name, profile]] of Object.entries(PROFILES).entries()) {
  test(`${name}: the chat page is connected within ${CONNECT_BUDGET_MS} ms, on ${profile.transport}, and chats`, async (t) => {
    const proxy = await startHostileProxy(app.url, profile.settings);
    t.after(() => proxy.stop());
    const ann = await enter(proxy.url, `ann-${index}`, t);
    assert.ok(ann.elapsed <= CONNECT_BUDGET_MS, `connected after ${ann.elapsed} ms`);
    assert.equal(await transportOf(ann.page), profile.transport);
    const bob = await enter(app.url, `bob-${index}`, t);
    await say(bob.page, `hello ann, from ${name}`);
    await logHas(ann.page, `hello ann, from ${name}`);
    await say(ann.page, 'hello bob');
    await logHas(bob.page, 'hello bob');
  });
}

test('a page on long polling moves to WebSocket once the proxy lets it through, every message once and in order', async (t) => {
  const proxy = await startHostileProxy(app.url, PROFILES['SSE buffered'].settings);
  t.after(() => proxy.stop());
  const ann = await enter(proxy.url, 'ann-upgrade', t);
  assert.equal(await transportOf(ann.page), 'longpoll');
  const bob = await enter(app.url, 'bob-upgrade', t);
  await ann.page.evaluate(() => {
    window.moves = [];
    window.chat.client.on('transport', (change) => window.moves.push(change));
  });
  const count = 60;
  for (let n = 1; n <= count; n++) {
    if (n === 10) await proxy.set('transparent');
    await say(bob.page, `numbered ${n}.`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await logHas(ann.page, `numbered ${count}.`);
  await ann.page.waitForFunction(() => window.chat.client.transport === 'websocket', null, { timeout: 20_000 });
  const seen = await ann.page.$$eval('#log .line', (lines) =>
    lines.map((line) => line.textContent.match(/numbered (\d+)\./)?.[1]).filter(Boolean).map(Number));
  assert.deepEqual(seen, Array.from({ length: count }, (_, i) => i + 1), 'each message once, in order');
  const moves = await ann.page.evaluate(() => window.moves);
  assert.equal(moves.at(-1).transport, 'websocket');
  assert.ok(moves.every((move) => move.resumed), 'the session went on: nothing lost');
  assert.equal(await ann.page.textContent('#status'), 'connected (websocket)');
});
