// The chat example in a real browser: two people, one room, presence, messages, leave.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startExample, launchBrowser } from './support.mjs';

let app, browser;
before(async () => { app = await startExample('chat'); browser = await launchBrowser(); });
after(async () => { await browser?.close(); await app?.stop(); });

async function enter(nick) {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(app.url);
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
