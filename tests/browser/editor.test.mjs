// The collaborative editor in a real browser: people typing at once converge, presence and remote carets show,
// and the document survives a server restart while the open pages reconnect on their own.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startExample, launchBrowser } from './support.mjs';

let app, browser, dataDir;
const pages = [];

before(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'collab-editor-test-'));
  app = await startExample('collab-editor', { args: ['--data', dataDir] });
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await app?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

/** Opens the editor on `doc` as `name` (over `transport` if given), and waits until its first sync is done. */
async function open(doc, name, transport) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${app.url}/?doc=${doc}&name=${encodeURIComponent(name)}${transport ? `&transport=${transport}` : ''}`);
  await page.waitForFunction(() => window.editor?.synced === true, undefined, { timeout: 15000 });
  await page.waitForSelector('#status.up', { timeout: 5000 });
  const person = { page, errors, name };
  pages.push(person);
  return person;
}

const text = (person) => person.page.evaluate(() => window.editor.text());
const shown = (person) => person.page.$eval('#text', (t) => t.value);
const members = (person) => person.page.$$eval('#members li .name', (names) => names.map((n) => n.textContent));

/** Puts the caret at the start or the end of the text, then types `typed` key by key. */
async function typeAt(person, where, typed) {
  await person.page.evaluate((where) => {
    const textarea = document.getElementById('text');
    textarea.focus();
    const at = where === 'end' ? textarea.value.length : 0;
    textarea.setSelectionRange(at, at);
  }, where);
  await person.page.keyboard.type(typed, { delay: 20 });
}

/** Waits until every page's document (and textarea) holds `expected`. */
async function converge(people, expected, timeout = 10000) {
  await Promise.all(people.map((person) => person.page.waitForFunction(
    (expected) => window.editor.text() === expected && document.getElementById('text').value === expected,
    expected,
    { timeout },
  ).catch(async (error) => {
    throw new Error(`${person.name} did not converge: it has ${JSON.stringify(await text(person))}, not ${JSON.stringify(expected)} (${error.message})`);
  })));
}

const SEED = 'A line that ann wrote first.\n';
const ANN = 'Hello from ann. ';
const BOB = 'Bob was here. ';
// Bob typed at the start, ann at the end: each run of keystrokes stays in one piece.
const AFTER_TYPING = BOB + SEED + ANN;

let ann, bob, cid;

test('two people typing at once in different places converge', async () => {
  ann = await open('t1', 'ann');
  bob = await open('t1', 'bob');
  for (const person of [ann, bob]) {
    await person.page.waitForFunction(() => ['ann', 'bob'].every((n) => window.editor.members().includes(n)), undefined, { timeout: 5000 });
  }
  assert.equal(await text(ann), '');

  await typeAt(ann, 'end', SEED);
  await converge([ann, bob], SEED);

  await Promise.all([typeAt(ann, 'end', ANN), typeAt(bob, 'start', BOB)]);
  await converge([ann, bob], AFTER_TYPING);
  assert.equal(await shown(ann), AFTER_TYPING);
  assert.equal(await shown(bob), AFTER_TYPING);
});

test('a page opened later shows the same text', async () => {
  cid = await open('t1', 'cid');
  assert.equal(await text(cid), AFTER_TYPING);
  assert.equal(await shown(cid), AFTER_TYPING);
});

test('another document is another text, over any transport', async () => {
  const dora = await open('t2', 'dora', 'longpoll');
  const eli = await open('t2', 'eli', 'sse');
  assert.equal(await dora.page.evaluate(() => window.editor.client.transport), 'longpoll');
  assert.equal(await eli.page.evaluate(() => window.editor.client.transport), 'sse');
  assert.equal(await text(dora), '');
  await typeAt(dora, 'end', 'Over long polling. ');
  await typeAt(eli, 'start', 'Over SSE. ');
  await converge([dora, eli], 'Over SSE. Over long polling. ');
  assert.deepEqual((await members(dora)).sort(), ['dora', 'eli']);
  assert.equal(await text(ann), AFTER_TYPING);
  await dora.page.close();
  await eli.page.close();
});

test('a paste too large for one message is refused on the page, and editing goes on', async () => {
  const fay = await open('t3', 'fay');
  await typeAt(fay, 'end', 'small. ');
  await fay.page.evaluate(() => {
    const area = document.querySelector('#text');
    area.value += 'x'.repeat(200000);
    area.dispatchEvent(new Event('input'));
  });
  await fay.page.waitForFunction(() => !document.querySelector('#error').hidden
    && document.querySelector('#error').textContent.includes('too large'), undefined, { timeout: 5000 });
  assert.equal(await text(fay), 'small. ');
  assert.equal(await shown(fay), 'small. ');
  await typeAt(fay, 'end', 'still here.');
  const gus = await open('t3', 'gus');
  await converge([fay, gus], 'small. still here.');
  assert.deepEqual(fay.errors, []);
  await fay.page.close();
  await gus.page.close();
});

test('each page shows the others in presence, and their carets', async () => {
  for (const person of [ann, bob, cid]) {
    await person.page.waitForFunction(
      () => ['ann', 'bob', 'cid'].every((n) => [...document.querySelectorAll('#members li .name')].some((e) => e.textContent === n)),
      undefined,
      { timeout: 5000 },
    );
    assert.deepEqual((await members(person)).sort(), ['ann', 'bob', 'cid']);
  }
  // Ann and bob moved their carets (by typing): each sees the other's, with its name; cid sees both, since members
  // send their caret again when someone joins.
  const caretOf = (person, name) => person.page.waitForFunction(
    (name) => [...document.querySelectorAll('#carets .caret .tag')].some((tag) => tag.textContent === name),
    name,
    { timeout: 5000 },
  );
  await caretOf(ann, 'bob');
  await caretOf(bob, 'ann');
  await caretOf(cid, 'ann');
  await caretOf(cid, 'bob');
  // No one sees their own caret drawn as someone else's.
  const tags = (person) => person.page.$$eval('#carets .caret .tag', (t) => t.map((e) => e.textContent));
  assert.ok(!(await tags(ann)).includes('ann'));
  assert.ok(!(await tags(bob)).includes('bob'));

  // Bob's caret is where he stopped typing, on the first line; ann's is at the end of the text, on the second.
  const bars = await cid.page.$$eval('#carets .caret', (els) => Object.fromEntries(els.map((e) => {
    const box = e.getBoundingClientRect();
    return [e.querySelector('.tag').textContent, { left: box.left, top: box.top, height: box.height }];
  })));
  assert.ok(bars.bob.top < bars.ann.top && bars.bob.height > 0, JSON.stringify(bars));

  // A selection shows as one.
  await bob.page.evaluate(() => {
    const textarea = document.getElementById('text');
    textarea.focus();
    textarea.setSelectionRange(0, 3);
  });
  await ann.page.waitForSelector('#carets .selection', { timeout: 5000 });

  // A member who leaves loses their caret and their place in the list.
  await cid.page.close();
  await ann.page.waitForFunction(() => !window.editor.members().includes('cid'), undefined, { timeout: 5000 });
  assert.deepEqual((await members(ann)).sort(), ['ann', 'bob']);
});

test('the text survives a restart, and open pages reconnect and keep editing', async () => {
  const address = new URL(app.url).host;
  await app.stop();
  await Promise.all([ann, bob].map((person) => person.page.waitForSelector('#status.down', { timeout: 5000 })));
  // The same address, so that the open pages find the server again (retried briefly: the port was just freed).
  for (let attempt = 1; ; attempt++) {
    try {
      app = await startExample('collab-editor', { args: ['--data', dataDir], env: { EDITOR_ADDR: address } });
      break;
    } catch (error) {
      if (attempt === 10) throw error;
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
  }
  assert.equal(new URL(app.url).host, address);

  const eve = await open('t1', 'eve');
  assert.equal(await text(eve), AFTER_TYPING);

  // The earlier pages reconnect on their own (with backoff: allow for it), re-join and see eve.
  for (const person of [ann, bob]) {
    await person.page.waitForSelector('#status.up', { timeout: 30000 });
    await person.page.waitForFunction(() => window.editor.members().includes('eve'), undefined, { timeout: 15000 });
    assert.equal(await text(person), AFTER_TYPING);
  }
  await typeAt(ann, 'end', 'Still here.');
  await converge([ann, bob, eve], `${AFTER_TYPING}Still here.`);

  for (const person of pages) assert.deepEqual(person.errors, [], `page errors of ${person.name}`);
});
