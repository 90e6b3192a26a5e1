// The trading ticker's page: a watchlist of every symbol (one subscription to `ticker:<SYMBOL>` each), flashing as
// prices move, and the selected symbol's price chart (its history, asked of the server, then live quotes), order
// book and last trades.
//
// The Tidings client is not bundled: the server serves it at /realtime/tidings.js, which the page loads first as
// the global `Tidings`. `?transport=sse` (or `websocket`, `longpoll`) in the page's address forces a transport.
//
// Quotes update the state at once (window.ticker, the chart); the tables are redrawn a few times a second.
import { PriceChart, mergePoints } from './chart.js';
import * as fmt from './format.js';

const $ = (id) => document.getElementById(id);

function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

const TRADES_KEPT = 20;
const TRADES_SHOWN = 11; // as many rows as the order book's
const BOOK_LEVELS = 5;
const HISTORY_ATTEMPTS = 3;

const forced = new URLSearchParams(location.search).get('transport');
const client = new window.Tidings.Client('/realtime', forced ? { transports: [forced] } : {});

/** What the page shows, for the browser tests (and the curious, in the console). */
const ticker = {
  client,
  /** Quotes received since the page opened. */
  quotes: 0,
  /** Quotes received in the last whole second. */
  quotesPerSecond: 0,
  /** The last price of each symbol that had a quote. */
  lastPrice: {},
  selected: null,
  /** Points in the chart's series. */
  chartPoints: 0,
  select,
};
window.ticker = ticker;

const names = new Map(); // symbol -> name, in the server's order
const rows = new Map(); // symbol -> { tr, last, chg, bid, ask, shown: the price on display, flash: its class }
const latest = new Map(); // symbol -> its last quote
const trades = new Map(); // symbol -> [{ time, price, size, side }], newest first
const subscriptions = new Map(); // symbol -> Subscription

const chart = new PriceChart($('chart'));

// ---- connection ----

function setStatus(up, text) {
  $('status').className = up ? 'up' : 'down';
  $('status').textContent = text;
}

client.on('state', (change) => {
  switch (change.state) {
    case 'connecting': setStatus(false, `connecting (${change.transport})`); break;
    case 'connected': setStatus(true, `connected (${change.transport})`); break;
    case 'disconnected': setStatus(false, `disconnected (${change.code}), reconnecting`); break;
    case 'reconnecting': setStatus(false, `reconnecting in ${(change.delay / 1000).toFixed(1)} s`); break;
    case 'closed': setStatus(false, `closed (${change.code} ${change.reason})`); break;
  }
});

let counted = 0;
setInterval(() => {
  ticker.quotesPerSecond = ticker.quotes - counted;
  counted = ticker.quotes;
  $('rate').textContent = `${fmt.size(ticker.quotesPerSecond)} quotes/s`;
}, 1000);

// ---- quotes ----

function onQuote(symbol, quote) {
  if (!quote || typeof quote.price !== 'number') return;
  ticker.quotes++;
  ticker.lastPrice[symbol] = quote.price;
  latest.set(symbol, quote);
  if (quote.trade) {
    const list = trades.get(symbol) ?? [];
    list.unshift({ time: quote.time, ...quote.trade });
    if (list.length > TRADES_KEPT) list.length = TRADES_KEPT;
    trades.set(symbol, list);
  }
  dirtyRows.add(symbol);
  if (symbol === ticker.selected) {
    chartQuote(quote);
    detailDirty = true;
  }
  schedule();
}

function subscribe(symbol) {
  const sub = client.subscribe(`ticker:${symbol}`, (pub) => onQuote(symbol, pub.data));
  subscriptions.set(symbol, sub);
  sub.on('error', (error) => {
    const row = rows.get(symbol);
    row.tr.classList.add('failed');
    row.tr.title = `not subscribed: ${error.message}`;
  });
  // A new session (the old one expired while disconnected) or missed publications: the chart has a hole, which
  // the server's history fills.
  sub.on('subscribed', (event) => { if (event.resubscribed && symbol === ticker.selected) loadHistory(symbol); });
  sub.on('gap', () => { if (symbol === ticker.selected) loadHistory(symbol); });
}

// ---- the chart: history, then live quotes ----

/** The history request under way: quotes of the selected symbol wait in `live` until it is drawn. */
let loading = null; // { symbol, live: [[timeMs, price], ...] }
let historyTimer = null;

function chartQuote(quote) {
  const ms = typeof quote.time === 'number' ? quote.time : Date.now();
  if (loading) {
    loading.live.push([ms, quote.price]);
  } else {
    chart.add(Math.floor(ms / 1000), quote.price);
    ticker.chartPoints = chart.count;
  }
}

function chartNote(text) {
  $('chart-note').textContent = text;
  $('chart-note').hidden = !text;
}

async function loadHistory(symbol, attempt = 1) {
  clearTimeout(historyTimer);
  const current = { symbol, live: [] };
  loading = current;
  if (!chart.count) chartNote('Loading history…');
  let error;
  try {
    await subscriptions.get(symbol).ready;
    const reply = await client.request(`ticker:${symbol}`, { type: 'history' });
    if (!reply || !Array.isArray(reply.points)) throw new Error('the reply has no points');
    if (loading !== current) return;
    loading = null;
    chart.show(mergePoints(reply.points, current.live));
    ticker.chartPoints = chart.count;
    chartNote(chart.count ? '' : 'No trades yet');
    return;
  } catch (e) {
    error = e;
  }
  if (loading !== current) return;
  // Live quotes only, for now (what the chart had, and what came meanwhile); the history is asked again later.
  loading = null;
  chart.show(mergePoints(chart.points.map((p) => [p.time * 1000, p.value]), current.live));
  ticker.chartPoints = chart.count;
  chartNote(`History unavailable: ${error.message}`);
  if (attempt < HISTORY_ATTEMPTS) {
    historyTimer = setTimeout(() => { if (ticker.selected === symbol) loadHistory(symbol, attempt + 1); }, 3000 * attempt);
  }
}

// ---- selection ----

function select(symbol) {
  if (!rows.has(symbol)) return false;
  if (symbol === ticker.selected) return true;
  const previous = rows.get(ticker.selected);
  if (previous) {
    previous.tr.classList.remove('selected');
    previous.tr.setAttribute('aria-selected', 'false');
    previous.tr.tabIndex = -1;
  }
  const row = rows.get(symbol);
  row.tr.classList.add('selected');
  row.tr.setAttribute('aria-selected', 'true');
  row.tr.tabIndex = 0;
  ticker.selected = symbol;
  chart.clear();
  ticker.chartPoints = 0;
  renderDetail();
  loadHistory(symbol);
  return true;
}

function moveSelection(step) {
  const symbols = [...rows.keys()];
  const next = symbols[symbols.indexOf(ticker.selected) + step];
  if (!next) return;
  select(next);
  const tr = rows.get(next).tr;
  tr.focus({ preventScroll: true });
  tr.scrollIntoView({ block: 'nearest' });
}

// ---- rendering ----
//
// A busy symbol moves tens of times a second: the tables are redrawn twice a second (the rows that changed since
// the last time, and the selected symbol's figures, all at once so that they agree), which keeps the figures
// readable and a row's flash a flash rather than a steady colour. The chart follows every quote.

const RENDER_EVERY = 500; // ms

const dirtyRows = new Set();
let detailDirty = false;
let renderTimer = null;

function schedule() {
  if (renderTimer !== null) return;
  renderTimer = setTimeout(() => {
    renderTimer = null;
    for (const symbol of dirtyRows) renderRow(symbol);
    dirtyRows.clear();
    if (detailDirty) renderDetail();
  }, RENDER_EVERY);
}

function buildWatchlist() {
  const body = $('watchlist').tBodies[0];
  body.replaceChildren();
  for (const [symbol, name] of names) {
    const cell = (className) => el('td', { className }, '—');
    const row = {
      tr: el('tr', { tabIndex: -1 }),
      last: cell('num last'),
      chg: cell('num chg flat'),
      bid: cell('num bid'),
      ask: cell('num ask'),
      shown: null,
      flash: '',
      flip: false,
    };
    row.tr.dataset.symbol = symbol;
    row.tr.setAttribute('aria-selected', 'false');
    row.tr.append(el('td', { className: 'sym' }, el('b', {}, symbol), el('span', { className: 'name' }, name)),
      row.last, row.chg, row.bid, row.ask);
    body.append(row.tr);
    rows.set(symbol, row);
  }
  body.addEventListener('click', (event) => {
    const tr = event.target.closest('tr[data-symbol]');
    if (tr) select(tr.dataset.symbol);
  });
  body.addEventListener('keydown', (event) => {
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault();
      moveSelection(event.key === 'ArrowDown' ? 1 : -1);
    } else if (event.key === 'Enter' || event.key === ' ') {
      const tr = event.target.closest('tr[data-symbol]');
      if (tr) { event.preventDefault(); select(tr.dataset.symbol); }
    }
  });
}

function renderRow(symbol) {
  const row = rows.get(symbol);
  const quote = latest.get(symbol);
  const price = quote.price;
  if (row.shown !== null && price !== row.shown) {
    // Two animations of each colour, used in turn: a new animation name restarts the flash mid-way.
    if (row.flash) row.tr.classList.remove(row.flash);
    row.flip = !row.flip;
    row.flash = `flash-${price > row.shown ? 'up' : 'down'}-${row.flip ? 'a' : 'b'}`;
    row.tr.classList.add(row.flash);
  }
  row.shown = price;
  row.last.textContent = fmt.price(price);
  const change = fmt.change(price, quote.open);
  row.chg.textContent = fmt.percent(change);
  row.chg.className = `num chg ${fmt.direction(change)}`;
  row.bid.textContent = fmt.price(quote.bid);
  row.ask.textContent = fmt.price(quote.ask);
}

// The order book's rows, made once: asks (best at the bottom), the spread, bids (best at the top).
const bookRows = { asks: [], bids: [] };
function buildBook() {
  const body = $('book').tBodies[0];
  const level = (side) => {
    const tr = el('tr', { className: side });
    const price = el('td', { className: 'num price' }, '—');
    const size = el('td', { className: 'num size' }, '');
    tr.append(price, size);
    body.append(tr);
    return { tr, price, size };
  };
  for (let i = 0; i < BOOK_LEVELS; i++) bookRows.asks.unshift(level('ask'));
  const spread = el('td', { colSpan: 2, id: 'spread' }, '');
  body.append(el('tr', { className: 'spread' }, spread));
  for (let i = 0; i < BOOK_LEVELS; i++) bookRows.bids.push(level('bid'));
}

function levels(list) {
  return (Array.isArray(list) ? list : [])
    .filter((l) => Array.isArray(l) && Number.isFinite(l[0]) && Number.isFinite(l[1]))
    .slice(0, BOOK_LEVELS);
}

function renderBook(quote) {
  const book = quote?.book ?? {};
  const sides = { asks: levels(book.asks), bids: levels(book.bids) };
  const largest = Math.max(1, ...sides.asks.map((l) => l[1]), ...sides.bids.map((l) => l[1]));
  for (const side of ['asks', 'bids']) {
    bookRows[side].forEach((row, i) => {
      const level = sides[side][i];
      row.price.textContent = level ? fmt.price(level[0]) : '—';
      row.size.textContent = level ? fmt.size(level[1]) : '';
      row.tr.style.setProperty('--depth', level ? `${Math.round((level[1] / largest) * 100)}%` : '0%');
    });
  }
  const bestBid = sides.bids[0]?.[0] ?? quote?.bid;
  const bestAsk = sides.asks[0]?.[0] ?? quote?.ask;
  $('spread').textContent = Number.isFinite(bestBid) && Number.isFinite(bestAsk)
    ? `spread ${fmt.price(bestAsk - bestBid, bestAsk)}` : '';
}

function renderTrades(list) {
  const body = $('trades').tBodies[0];
  if (!list.length) {
    body.replaceChildren(el('tr', { className: 'empty' }, el('td', { colSpan: 4 }, 'No trades yet')));
    return;
  }
  body.replaceChildren(...list.slice(0, TRADES_SHOWN).map((t) => {
    const side = t.side === 'sell' ? 'sell' : 'buy';
    return el('tr', { className: side },
      el('td', { className: 'time' }, Number.isFinite(t.time) ? fmt.clock(new Date(t.time)) : ''),
      el('td', { className: 'side' }, side),
      el('td', { className: 'num' }, fmt.price(t.price)),
      el('td', { className: 'num' }, fmt.size(t.size)));
  }));
}

function renderDetail() {
  detailDirty = false;
  const symbol = ticker.selected;
  if (!symbol) return;
  const quote = latest.get(symbol);
  $('sel-symbol').textContent = symbol;
  $('sel-name').textContent = names.get(symbol) ?? symbol;
  const change = quote ? fmt.change(quote.price, quote.open) : null;
  const dir = fmt.direction(change);
  $('sel-price').textContent = quote ? fmt.price(quote.price) : '—';
  $('sel-price').className = dir;
  $('sel-change').textContent = quote && change !== null
    ? `${quote.price - quote.open >= 0 ? '+' : '−'}${fmt.price(Math.abs(quote.price - quote.open), quote.price)} (${fmt.percent(change)})`
    : '';
  $('sel-change').className = dir;
  $('sel-open').textContent = fmt.price(quote?.open);
  $('sel-bid').textContent = fmt.price(quote?.bid);
  $('sel-ask').textContent = fmt.price(quote?.ask);
  $('sel-volume').textContent = fmt.size(quote?.volume);
  $('sel-time').textContent = quote && Number.isFinite(quote.time) ? fmt.clock(new Date(quote.time)) : '—';
  document.title = quote ? `${symbol} ${fmt.price(quote.price)} · Tidings ticker` : 'Tidings ticker';
  renderBook(quote);
  renderTrades(trades.get(symbol) ?? []);
}

// ---- start ----

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function loadSymbols() {
  for (let attempt = 0; ; attempt++) {
    try {
      const response = await fetch('/api/symbols');
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const list = await response.json();
      if (!Array.isArray(list)) throw new Error('not a list');
      return list.filter((s) => s && typeof s.symbol === 'string');
    } catch (e) {
      const delay = Math.min(10000, 1000 * 2 ** attempt);
      $('watchlist-note').textContent = `Could not load the symbols (${e.message}); trying again in ${delay / 1000} s`;
      $('watchlist-note').hidden = false;
      await sleep(delay);
    }
  }
}

async function start() {
  buildBook();
  const list = await loadSymbols();
  $('watchlist-note').hidden = true;
  for (const { symbol, name } of list) names.set(symbol, typeof name === 'string' ? name : symbol);
  buildWatchlist();
  for (const symbol of names.keys()) subscribe(symbol);
  const first = names.keys().next().value;
  if (first) select(first);
}

start();
