// The dashboard example in a real browser: the hub's own metrics (topic metrics:hub, a snapshot a second) follow
// client pages opening and closing over each transport, in the cards, the charts and the topics table.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startExample, launchBrowser } from './support.mjs';

let app, browser, context;
const errors = [];
let dash = null; // the first test's dashboard page, kept open for the second

// All pages in one browser context: `browser.newPage()` would give each its own, which closing the page disposes
// of at once, sometimes before the page-hide beacon that ends an SSE or long-polling session has left (the
// session then lingers for the resume window).
before(async () => {
  app = await startExample('dashboard');
  browser = await launchBrowser();
  context = await browser.newContext();
});
after(async () => { await browser?.close(); await app?.stop(); });

/** Opens a page of the app (path and query), collecting its errors. */
async function open(path) {
  const page = await context.newPage();
  page.on('pageerror', (e) => errors.push(`${path}: ${e}`));
  await page.goto(app.url + path);
  return page;
}

/** Opens the dashboard and waits for its first snapshot. */
async function openDashboard(query = '') {
  const page = await open(`/${query}`);
  await page.waitForSelector('#status.up', { timeout: 10000 });
  await page.waitForFunction(() => window.dashboard?.latest != null, undefined, { timeout: 10000 });
  return page;
}

/** The connection counts and sessions of the dashboard's newest snapshot. */
const counts = (page) => page.evaluate(() => {
  const s = window.dashboard.latest;
  const c = s.connections ?? {};
  return { time: s.time, sessions: s.sessions, websocket: c.websocket ?? 0, sse: c.sse ?? 0, longpoll: c.longpoll ?? 0 };
});

/** Waits until the dashboard has had `n` snapshots newer than `time`. */
const snapshotsAfter = (page, time, n = 1) =>
  page.waitForFunction(([t, k]) => window.dashboard.latest.time >= t + k * 1000 - 200, [time, n], { timeout: 10000 });

test('client pages over each transport show in the counts, the topics and the charts, and leave again', async () => {
  dash = await openDashboard();
  assert.equal(await dash.evaluate(() => window.dashboard.client.transport), 'websocket');
  assert.match(await dash.textContent('#status'), /connected \(websocket\)/);
  assert.equal(await dash.textContent('h1'), 'Tidings dashboard');

  // The newest snapshot may come from the history, from before this page connected: a baseline is taken two live
  // snapshots later, and it includes the dashboard's own WebSocket.
  await snapshotsAfter(dash, (await counts(dash)).time, 2);
  const baseline = await counts(dash);
  assert.ok(baseline.websocket >= 1, `the dashboard's own connection is counted: ${JSON.stringify(baseline)}`);
  assert.ok(baseline.sessions >= 1);

  const clients = [];
  for (const transport of ['websocket', 'websocket', 'longpoll', 'sse']) {
    const page = await open(`/client?transport=${transport}`);
    clients.push(page);
    await page.waitForFunction(() => window.demo?.received > 0, undefined, { timeout: 10000 });
    assert.equal(await page.evaluate(() => window.demo.client.transport), transport);
    assert.match(await page.textContent('#status'), new RegExp(`\\(${transport}\\)`));
  }

  // Within a few snapshots: the new connections and sessions, and the cards showing that very snapshot.
  await dash.waitForFunction((base) => {
    const s = window.dashboard.latest;
    const c = s.connections ?? {};
    const n = (k) => c[k] ?? 0;
    if (n('websocket') < base.websocket + 2 || n('longpoll') < base.longpoll + 1 || n('sse') < base.sse + 1) return false;
    if (s.sessions < base.sessions + 4) return false;
    const shown = (id) => document.getElementById(id).textContent.replace(/,/g, '');
    return ['websocket', 'sse', 'longpoll'].every((k) => shown(`v-${k}`) === String(n(k)))
      && shown('v-sessions') === String(s.sessions);
  }, baseline, { timeout: 10000 });

  // The topics table: demo:feed with the four clients (at least), and the dashboard's own metrics:hub.
  await dash.waitForFunction(() => {
    const subscribers = (topic) => {
      const row = [...document.querySelectorAll('#topics tr')].find((tr) => tr.querySelector('.topic')?.textContent === topic);
      return row ? Number(row.querySelector('.subs').textContent.replace(/,/g, '')) : 0;
    };
    return subscribers('demo:feed') >= 4 && subscribers('metrics:hub') >= 1;
  }, undefined, { timeout: 10000 });
  const feed = await dash.evaluate(() => window.dashboard.latest.topics.find((t) => t.topic === 'demo:feed'));
  assert.ok(feed.subscribers >= 4, JSON.stringify(feed));

  // demo:feed goes out ten times a second to each of them.
  await dash.waitForFunction(() => window.dashboard.latest.rates.messages_out > 0
    && Number(document.getElementById('v-out').textContent.replace(/,/g, '')) > 0, undefined, { timeout: 10000 });

  // Both charts are drawn, with more than one point.
  await dash.waitForFunction(() => window.dashboard.points > 1, undefined, { timeout: 10000 });
  assert.equal(await dash.locator('#chart-connections .uplot canvas').count(), 1);
  assert.equal(await dash.locator('#chart-messages .uplot canvas').count(), 1);
  const legend = await dash.textContent('#chart-connections .u-legend');
  for (const label of ['WebSocket', 'SSE', 'Long polling']) assert.ok(legend.includes(label), legend);

  // Closing the pages ends their sessions (a WebSocket close, or the page-hide beacon on SSE and long polling).
  for (const page of clients) await page.close();
  await dash.waitForFunction((base) => {
    const s = window.dashboard.latest;
    const c = s.connections ?? {};
    const shown = (id) => document.getElementById(id).textContent.replace(/,/g, '');
    return ['websocket', 'sse', 'longpoll'].every((k) => (c[k] ?? 0) === base[k] && shown(`v-${k}`) === String(base[k]))
      && s.sessions === base.sessions;
  }, baseline, { timeout: 15000 }).catch(async (error) => {
    assert.fail(`the counts did not go back to ${JSON.stringify(baseline)}: ${JSON.stringify(await counts(dash))} (${error.message})`);
  });
  assert.deepEqual(errors, []);
});

test('a dashboard opened later starts from the recent history, over SSE and long polling', async () => {
  if (!dash) {
    dash = await openDashboard();
    await dash.waitForTimeout(5000);
  }
  for (const transport of ['sse', 'longpoll']) {
    const older = await dash.evaluate(() => window.dashboard.points);
    assert.ok(older >= 5, `the first dashboard has ${older} points`);
    const page = await openDashboard(`?transport=${transport}`);
    assert.equal(await page.evaluate(() => window.dashboard.client.transport), transport);
    assert.match(await page.textContent('#status'), new RegExp(`connected \\(${transport}\\)`));
    // At least what the older page has charted, at once: the server's history (oldest first, deduplicated by time
    // against the live snapshots).
    await page.waitForFunction((n) => window.dashboard.points >= Math.min(n, 300), older, { timeout: 3000 })
      .catch(async () => assert.fail(`${await page.evaluate(() => window.dashboard.points)} points, the older dashboard had ${older}`));
    // Its own connection is counted under its transport.
    await page.waitForFunction((t) => (window.dashboard.latest.connections?.[t] ?? 0) >= 1, transport, { timeout: 10000 });
    await page.close();
  }
  await dash.close();
  assert.deepEqual(errors, []);
});
