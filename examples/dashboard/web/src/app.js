// The Tidings dashboard: the hub's own metrics (topic `metrics:hub`, a snapshot a second) as cards, charts of the
// last five minutes and a table of the busiest topics. The Tidings client is the global `Tidings` that the server
// serves at /realtime/tidings.js; `?transport=websocket|sse|longpoll` forces one transport.
import { createStore } from './store.js';
import { timeChart, WINDOW_SECONDS } from './charts.js';
import { count, rate, clock } from './format.js';

const TOPIC = 'metrics:hub';
const TRANSPORTS = [
  { key: 'websocket', label: 'WebSocket', color: '#2f6fdd' },
  { key: 'sse', label: 'SSE', color: '#16a34a' },
  { key: 'longpoll', label: 'Long polling', color: '#d97706' },
];

const $ = (id) => document.getElementById(id);
const el = (tag, props = {}, ...children) => {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...children);
  return e;
};
const num = (n) => (typeof n === 'number' && Number.isFinite(n) ? n : 0);

const forced = new URLSearchParams(location.search).get('transport');
const client = new Tidings.Client('/realtime', forced ? { transports: [forced] } : {});
const store = createStore(WINDOW_SECONDS);

/** For the browser tests and the curious: the client, the newest snapshot, the number of points charted. */
const dashboard = { client, latest: null, points: 0 };
window.dashboard = dashboard;

// Connection status in the header.
function setStatus(up, text) {
  $('status').className = up ? 'up' : 'down';
  $('status').textContent = text;
}
client.on('state', (change) => {
  switch (change.state) {
    case 'connecting': setStatus(false, `connecting (${change.transport})`); break;
    case 'connected': setStatus(true, `connected (${change.transport})`); break;
    case 'disconnected': setStatus(false, `disconnected (${change.code}), reconnecting`); break;
    case 'reconnecting': setStatus(false, `reconnecting in ${Math.round(change.delay / 100) / 10} s`); break;
    case 'closed': setStatus(false, `closed (${change.code} ${change.reason ?? ''})`.replace(' )', ')')); break;
  }
});

// Charts.
const connectionsChart = timeChart($('chart-connections'), {
  integer: true,
  series: TRANSPORTS.map((t) => ({ label: t.label, color: t.color, format: count })),
  pick: (s) => TRANSPORTS.map((t) => num(s.connections?.[t.key])),
});
const messagesChart = timeChart($('chart-messages'), {
  series: [
    { label: 'in/s', color: '#7c3aed', format: rate },
    { label: 'out/s', color: '#2f6fdd', fill: 'rgba(47,111,221,0.08)', format: rate },
    { label: 'publications/s', color: '#0891b2', dash: [5, 4], format: rate },
  ],
  pick: (s) => [num(s.rates?.messages_in), num(s.rates?.messages_out), num(s.rates?.publications)],
});

// Cards: the newest snapshot.
function renderCards(s) {
  const connections = s.connections ?? {};
  const others = Object.keys(connections).filter((k) => !TRANSPORTS.some((t) => t.key === k) && num(connections[k]) > 0);
  $('v-sessions').textContent = count(s.sessions);
  // Sessions are counted by the transport that carries, or last carried, each (a detached one waits to resume).
  $('s-sessions').textContent = others.length
    ? others.map((k) => `${k} ${count(connections[k])}`).join(', ')
    : 'by transport: see the cards';
  for (const t of TRANSPORTS) $(`v-${t.key}`).textContent = count(num(connections[t.key]));
  $('v-in').textContent = rate(s.rates?.messages_in);
  $('s-in').textContent = `${count(s.totals?.messages_in)} total`;
  $('v-out').textContent = rate(s.rates?.messages_out);
  $('s-out').textContent = `${count(s.totals?.messages_out)} total`;
  $('v-publications').textContent = rate(s.rates?.publications);
  $('s-publications').textContent = `${count(s.totals?.publications)} total`;
  $('v-drops').textContent = count(s.totals?.slow_consumer_drops ?? 0);
  $('s-drops').textContent = `${count(s.totals?.conflated ?? 0)} publications conflated`;
  $('card-drops').classList.toggle('alert', num(s.totals?.slow_consumer_drops) > 0);
  $('updated').textContent = `updated ${clock(s.time)}`;
}

// The topics table, busiest first, each with a bar relative to the busiest.
function renderTopics(s) {
  const topics = Array.isArray(s.topics) ? s.topics : [];
  const most = Math.max(1, ...topics.map((t) => num(t.subscribers)));
  $('topics').replaceChildren(...topics.map((t) => {
    const bar = el('div', { className: 'bar' });
    bar.style.width = `${(100 * num(t.subscribers)) / most}%`;
    return el('tr', {},
      el('td', { className: 'topic', title: t.topic }, String(t.topic)),
      el('td', { className: 'subs' }, count(num(t.subscribers))),
      el('td', { className: 'meter' }, bar));
  }));
  $('topics-empty').hidden = topics.length > 0;
  $('topics-count').textContent = topics.length >= 50 ? 'top 50' : `${topics.length} topic${topics.length === 1 ? '' : 's'}`;
}

function render() {
  const latest = store.latest;
  dashboard.latest = latest;
  dashboard.points = store.size;
  if (!latest) return;
  renderCards(latest);
  renderTopics(latest);
  connectionsChart.update(store.snapshots);
  messagesChart.update(store.snapshots);
  $('points').textContent = `${store.size} s of data`;
}

// A fresh page shows a stale notice when snapshots stop coming (the server or the connection is gone).
setInterval(() => {
  const latest = store.latest;
  $('updated').classList.toggle('stale', !!latest && Date.now() - latest.time > 5000);
}, 1000);

// Live snapshots, and the last five minutes from the server's history: on open, and again whenever the client had
// to start a new session (the snapshots of the time in between may be there).
const sub = client.subscribe(TOPIC, (pub) => { if (store.add(pub.data)) render(); });

async function loadHistory() {
  try {
    const reply = await client.request(TOPIC, { type: 'history' });
    let added = false;
    for (const snapshot of reply?.snapshots ?? []) added = store.add(snapshot) || added;
    if (added) render();
  } catch (error) {
    console.warn('dashboard: no history', error);
  }
}

sub.on('subscribed', (event) => { if (event.resubscribed) loadHistory(); });
sub.on('error', (error) => setStatus(false, `metrics refused: ${error.message}`));
sub.ready.then(loadHistory, (error) => setStatus(false, `metrics refused: ${error.message}`));
