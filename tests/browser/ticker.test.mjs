// The trading ticker in a real browser, over WebSocket and long polling: the watchlist fills with every symbol and its
// prices move (rows flash), the selected symbol's chart opens with its history and grows with live quotes, its order
// book fills, and clicking another row selects it and loads its chart.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startExample, launchBrowser } from './support.mjs';

/** Every wait is bounded: a page that never gets there fails the test rather than hanging it. */
const WAIT = { timeout: 15000 };

let app, browser, symbols;
before(async () => {
  app = await startExample('trading-ticker');
  browser = await launchBrowser();
  const response = await fetch(`${app.url}/api/symbols`);
  assert.equal(response.status, 200);
  symbols = await response.json();
});
after(async () => { await browser?.close(); await app?.stop(); });

test('the server lists its symbols', () => {
  assert.ok(Array.isArray(symbols), 'GET /api/symbols is a JSON array');
  assert.ok(symbols.length >= 40, `about 50 symbols, got ${symbols.length}`);
  for (const s of symbols) {
    assert.equal(typeof s.symbol, 'string');
    assert.equal(typeof s.name, 'string');
  }
  assert.equal(new Set(symbols.map((s) => s.symbol)).size, symbols.length, 'no symbol twice');
});

async function open(query) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(app.url + query);
  return { page, errors };
}

/** The price each watchlist row shows, by symbol. */
const shownPrices = (page) => page.$$eval('#watchlist tbody tr', (trs) =>
  Object.fromEntries(trs.map((tr) => [tr.dataset.symbol, tr.querySelector('td.last').textContent])));

/** The server's history of `symbol`, asked through the page's client (which subscribed to it). */
const history = (page, symbol) => page.evaluate((s) => window.ticker.client.request(`ticker:${s}`, { type: 'history' }), symbol);

function checkHistory(reply, symbol) {
  assert.equal(reply.symbol, symbol);
  assert.ok(Array.isArray(reply.points));
  let previous = -Infinity;
  for (const point of reply.points) {
    assert.ok(Array.isArray(point) && point.length === 2, `a point is [timeMs, price]: ${JSON.stringify(point)}`);
    const [time, price] = point;
    assert.ok(Number.isFinite(time) && Number.isFinite(price) && price > 0, JSON.stringify(point));
    assert.ok(Math.floor(time / 1000) > Math.floor(previous / 1000), 'oldest first, one point per second at most');
    assert.ok(time > Date.now() - 11 * 60 * 1000 && time < Date.now() + 60 * 1000, 'the last 10 minutes');
    previous = time;
  }
}

for (const [transport, query] of [['websocket', ''], ['longpoll', '?transport=longpoll']]) {
  test(`the ticker works over ${transport}`, { timeout: 180000 }, async () => {
    const { page, errors } = await open(query);
    try {
      await page.waitForSelector('#status.up', WAIT);
      assert.equal(await page.evaluate(() => window.ticker.client.transport), transport);
      assert.match(await page.textContent('#status'), new RegExp(`\\(${transport}\\)`));

      // The watchlist: every symbol, in the server's order.
      await page.waitForFunction((n) => document.querySelectorAll('#watchlist tbody tr').length === n, symbols.length, WAIT);
      assert.deepEqual(await page.$$eval('#watchlist tbody tr', (trs) => trs.map((tr) => tr.dataset.symbol)),
        symbols.map((s) => s.symbol));

      // Prices move: once at least 10 rows show a price, at least 10 of those show another one soon after.
      await page.waitForFunction(() => [...document.querySelectorAll('#watchlist td.last')]
        .filter((td) => /\d/.test(td.textContent)).length >= 10, undefined, WAIT);
      const shown = await shownPrices(page);
      const quotes = await page.evaluate(() => window.ticker.quotes);
      await page.waitForFunction((was) => [...document.querySelectorAll('#watchlist tbody tr')].filter((tr) =>
        /\d/.test(was[tr.dataset.symbol]) && tr.querySelector('td.last').textContent !== was[tr.dataset.symbol]).length >= 10,
      shown, WAIT);
      await page.waitForSelector('#watchlist tbody tr[class*="flash-"]', { ...WAIT, state: 'attached' });
      await page.waitForFunction((n) => window.ticker.quotes > n, quotes, WAIT);
      await page.waitForFunction(() => /^[1-9][\d,]* quotes\/s$/.test(document.querySelector('#rate').textContent), undefined, WAIT);
      const lastPrice = await page.evaluate(() => window.ticker.lastPrice);
      assert.ok(Object.keys(lastPrice).length >= 10);
      for (const [symbol, price] of Object.entries(lastPrice)) {
        assert.ok(symbols.some((s) => s.symbol === symbol) && Number.isFinite(price), `${symbol}: ${price}`);
      }

      // The first symbol is selected: its name, its chart (history, then live points), its order book.
      const [first] = symbols;
      assert.equal(await page.evaluate(() => window.ticker.selected), first.symbol);
      assert.equal(await page.textContent('#sel-symbol'), first.symbol);
      assert.equal(await page.textContent('#sel-name'), first.name);
      assert.equal(await page.getAttribute(`#watchlist tr[data-symbol="${first.symbol}"]`, 'aria-selected'), 'true');
      checkHistory(await history(page, first.symbol), first.symbol);
      await page.waitForFunction(() => window.ticker.chartPoints > 1, undefined, WAIT);
      assert.ok(await page.$('#chart canvas'), 'the chart is drawn');
      const points = await page.evaluate(() => window.ticker.chartPoints);
      await page.waitForFunction((n) => window.ticker.chartPoints > n, points, WAIT);
      await page.waitForFunction(() => {
        const prices = [...document.querySelectorAll('#book tr.bid td.price, #book tr.ask td.price')];
        return prices.length === 10 && prices.every((td) => /\d/.test(td.textContent));
      }, undefined, WAIT);

      // Clicking another row selects it and loads its chart: at least the history the server has for it.
      const other = symbols[Math.min(7, symbols.length - 1)];
      const known = await history(page, other.symbol);
      checkHistory(known, other.symbol);
      await page.click(`#watchlist tr[data-symbol="${other.symbol}"]`);
      await page.waitForFunction((s) => window.ticker.selected === s, other.symbol, WAIT);
      assert.equal(await page.textContent('#sel-symbol'), other.symbol);
      assert.equal(await page.getAttribute(`#watchlist tr[data-symbol="${other.symbol}"]`, 'aria-selected'), 'true');
      assert.equal(await page.getAttribute(`#watchlist tr[data-symbol="${first.symbol}"]`, 'aria-selected'), 'false');
      await page.waitForFunction((n) => window.ticker.chartPoints > 1 && window.ticker.chartPoints >= n,
        known.points.length, WAIT);
      const otherPoints = await page.evaluate(() => window.ticker.chartPoints);
      await page.waitForFunction((n) => window.ticker.chartPoints > n, otherPoints, WAIT);

      // The keyboard moves the selection too.
      await page.focus(`#watchlist tr[data-symbol="${other.symbol}"]`);
      await page.keyboard.press('ArrowDown');
      const next = symbols[symbols.indexOf(other) + 1];
      await page.waitForFunction((s) => window.ticker.selected === s, next.symbol, WAIT);
      await page.waitForFunction(() => window.ticker.chartPoints > 1, undefined, WAIT);

      // WebSocket quotes went out compressed (permessage-deflate, which Chromium offers); long polls are plain HTTP.
      const stats = await (await fetch(`${app.url}/api/stats`)).json();
      if (transport === 'websocket') assert.ok(stats.websocket.compressed_messages_sent > 0, JSON.stringify(stats));
      // The long-polling page lags between polls by design: its quotes are conflated rather than queued.
      if (transport === 'longpoll') assert.ok(stats.hub.conflated > 0, JSON.stringify(stats));
      assert.equal(stats.hub.slow_consumer_drops, 0);

      assert.deepEqual(errors, []);
    } finally {
      await page.close();
    }
  });
}
