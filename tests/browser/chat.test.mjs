// The chat example in a real browser: two people, one room, presence, messages, leave.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startExample, launchBrowser } from './support.mjs';

let app, browser;
before(async () => { app = await startExample('chat'); browser = await launchBrowser(); });
after(async () => { await browser?.close(); await app?.stop(); });

/** Opens the chat as `nick`; `query` forces a transport (`?transport=sse`), `hide` removes browser APIs first. */
async function enter(nick, { query = '', hide = [] } = {}) {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  if (hide.length) await page.addInitScript((names) => { for (const name of names) delete window[name]; }, hide);
  await page.goto(app.url + query);
  await page.fill('#nick', nick);
  await page.press('#nick', 'Enter');
  await page.waitForSelector('#status.up');
  await page.waitForFunction(() => document.querySelectorAll('#rooms li').length === 3);
  assert.equal(await page.textContent('#rooms li.active'), '# lobby');
  return { page, errors };
}

const members = (page) => page.$$eval('#members li', (lis) => lis.map((li) => li.textContent));
const log = (page) => page.$eval('#log', (el) => el.innerText);

test('two people chat in the lobby, with presence and join/leave notices', async () => {
  const ann = await enter('ann');
  const bob = await enter('bob');
  await ann.page.waitForFunction(() => document.querySelector('#log').textContent.includes('bob joined'));
  assert.deepEqual(await members(ann.page), ['ann', 'bob']);
  assert.deepEqual(await members(bob.page), ['ann', 'bob']);

  await bob.page.fill('#text', 'hello from bob');
  await bob.page.press('#text', 'Enter');
  await ann.page.waitForFunction(() => document.querySelector('#log').textContent.includes('hello from bob'));
  await bob.page.waitForFunction(() => document.querySelector('#log').textContent.includes('hello from bob'));

  // A message in another room does not show in the lobby, but marks that room unread.
  await ann.page.click('#rooms li:nth-child(2)');
  await ann.page.fill('#text', 'only in rust');
  await ann.page.press('#text', 'Enter');
  await bob.page.waitForFunction(() => document.querySelector('#rooms li:nth-child(2) .unread')?.textContent === '1');
  assert.ok(!(await log(bob.page)).includes('only in rust'));

  await bob.page.close();
  await ann.page.click('#rooms li:first-child');
  await ann.page.waitForFunction(() => document.querySelector('#log').textContent.includes('bob left'));
  assert.deepEqual(await members(ann.page), ['ann']);
  assert.deepEqual([...ann.errors, ...bob.errors], []);
});

test('a nickname already in a room is refused with a visible error', async () => {
  const first = await enter('dora');
  const page = await browser.newPage();
  await page.goto(app.url);
  await page.fill('#nick', 'dora');
  await page.press('#nick', 'Enter');
  await page.waitForFunction(() => document.querySelector('#login-error').textContent.includes('already in this room'));
  // Another nickname gets in.
  await page.fill('#nick', 'dora2');
  await page.press('#nick', 'Enter');
  await page.waitForFunction(() => document.querySelectorAll('#rooms li').length === 3);
  await first.page.waitForFunction(() => document.querySelector('#log').textContent.includes('dora2 joined'));
  await first.page.close();
  await page.close();
});

const transportOf = (page) => page.evaluate(() => window.chat.client.transport);

/** Two people exchange messages in the lobby; the second leaving is seen by the first. */
async function converse(ann, bob, text) {
  await ann.page.waitForFunction((t) => document.querySelector('#log').textContent.includes(t), `${bob.nick} joined`);
  await bob.page.fill('#text', text);
  await bob.page.press('#text', 'Enter');
  await ann.page.waitForFunction((t) => document.querySelector('#log').textContent.includes(t), text);
  await ann.page.fill('#text', `re: ${text}`);
  await ann.page.press('#text', 'Enter');
  await bob.page.waitForFunction((t) => document.querySelector('#log').textContent.includes(t), `re: ${text}`);
  // Closing the page ends the session at once (WebSocket close, or a beacon on SSE and long polling).
  await bob.page.close();
  await ann.page.waitForFunction((t) => document.querySelector('#log').textContent.includes(t), `${bob.nick} left`);
  await ann.page.close();
  assert.deepEqual([...ann.errors, ...bob.errors], []);
}

async function person(nick, options) {
  return { nick, ...(await enter(nick, options)) };
}

for (const transport of ['websocket', 'sse', 'longpoll']) {
  test(`the chat works with ${transport} forced`, async () => {
    const query = `?transport=${transport}`;
    const ann = await person(`ann-${transport}`, { query });
    const bob = await person(`bob-${transport}`, { query });
    assert.equal(await transportOf(ann.page), transport);
    assert.match(await ann.page.textContent('#status'), new RegExp(`\\(${transport}\\)`));
    await converse(ann, bob, `hello over ${transport}`);
  });
}

test('without WebSocket the page falls back to SSE on its own', async () => {
  const ann = await person('ann-nows', { hide: ['WebSocket'] });
  const bob = await person('bob-nows');
  assert.equal(await transportOf(ann.page), 'sse');
  assert.equal(await transportOf(bob.page), 'websocket');
  await converse(ann, bob, 'from a WebSocket page to an SSE page');
});

test('without WebSocket and EventSource the page falls back to long polling', async () => {
  const ann = await person('ann-legacy', { hide: ['WebSocket', 'EventSource'] });
  const bob = await person('bob-legacy', { hide: ['WebSocket', 'EventSource', 'fetch'] });
  assert.equal(await transportOf(ann.page), 'longpoll');
  assert.equal(await transportOf(bob.page), 'longpoll');
  await converse(ann, bob, 'plain XMLHttpRequest');
});

test('a WebSocket page and a long-polling page exchange messages', async () => {
  const ann = await person('ann-mixed', { query: '?transport=websocket' });
  const bob = await person('bob-mixed', { query: '?transport=longpoll' });
  await converse(ann, bob, 'across transports');
});

test("another site's page cannot open the chat's WebSocket", async () => {
  // The chat at http://localhost:PORT is another origin than http://127.0.0.1:PORT: a page there plays the
  // attacker's site. Two defences stop it: the origin check (403) and the same-site cookie, which the browser does
  // not send along (401). tests/tests/security.rs checks the origin alone.
  const page = await browser.newPage();
  await page.goto(app.url);
  await page.evaluate(() => fetch('/dev/token', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"nick":"victim"}' }));
  const foreign = app.url.replace('127.0.0.1', 'localhost');
  await page.goto(foreign);
  const outcome = await page.evaluate((target) => new Promise((resolve) => {
    const ws = new WebSocket(target);
    ws.onopen = () => resolve('opened');
    ws.onclose = (e) => resolve(`closed ${e.code}`);
  }), `${app.url.replace('http:', 'ws:')}/realtime/ws`);
  assert.equal(outcome, 'closed 1006');
  // From its own origin, the same browser connects.
  await page.goto(app.url);
  const own = await page.evaluate((target) => new Promise((resolve) => {
    const ws = new WebSocket(target);
    ws.onopen = () => { ws.close(); resolve('opened'); };
    ws.onclose = (e) => resolve(`closed ${e.code}`);
  }), `${app.url.replace('http:', 'ws:')}/realtime/ws`);
  assert.equal(own, 'opened');
  await page.close();
});
