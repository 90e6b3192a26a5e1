// Time to connect behind hostile proxies: the Tidings JavaScript client (against target/debug/demo-server) and
// Socket.IO's client (against a Socket.IO server with its default transports, in this process), each behind
// target/debug/hostile-proxy with every profile of tests/support/hostile-proxy.mjs. A connection counts from the
// client's creation to its `connected` (Tidings) or `connect` (Socket.IO) event, as median (max) and the
// transport it connected on; every client is fresh, with nothing remembered except in the "remembered" column.
//
// Usage: node benches/peers/connect-behind-proxies.mjs [--runs N] [--into docs/performance.md]
// Prints a Markdown table; with --into, replaces the table between the connect-times markers of that file.
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import WebSocket from 'ws';
import { EventSource } from 'eventsource';
import { Server } from 'socket.io';
import { io } from 'socket.io-client';
import { Client } from '../../clients/js/dist/index.js';
import { startServer } from '../../clients/js/test/support.mjs';
import { PROFILES, startHostileProxy } from '../../tests/support/hostile-proxy.mjs';

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1] : fallback;
};
const runs = Number(option('--runs', '7'));
const into = option('--into', null);
/** A connection that takes longer than this counts as failed (and the table says so). */
const GIVE_UP_MS = 30_000;

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** Connects `runs` times with `connect()` (resolving with the transport, after `close()` is arranged). */
async function measure(connect) {
  const times = [];
  const transports = new Set();
  for (let i = 0; i < runs; i++) {
    const started = Date.now();
    const outcome = await Promise.race([
      connect(),
      new Promise((resolve) => setTimeout(() => resolve(null), GIVE_UP_MS)),
    ]);
    if (outcome === null) return { failed: true };
    times.push(Date.now() - started);
    transports.add(outcome);
  }
  return { median: median(times), max: Math.max(...times), transports: [...transports].join(', ') };
}

function tidings(url, rememberTransport = false) {
  return async () => {
    const client = new Client(url, { WebSocket, EventSource, rememberTransport, upgrade: false });
    const connected = await new Promise((resolve) => client.once('connected', resolve));
    await client.close();
    return connected.transport;
  };
}

function socketio(url) {
  return async () => {
    const socket = io(url, { forceNew: true, reconnection: false, timeout: GIVE_UP_MS });
    await new Promise((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('connect_error', reject);
    });
    const transport = socket.io.engine.transport.name;
    socket.disconnect();
    return transport === 'polling' ? 'polling' : transport;
  };
}

const server = await startServer();
const httpServer = createServer();
const ioServer = new Server(httpServer, { serveClient: false });
await new Promise((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
const ioUrl = `http://127.0.0.1:${httpServer.address().port}`;

const rows = [];
for (const [name, profile] of Object.entries(PROFILES)) {
  const toTidings = await startHostileProxy(server.url, profile.settings);
  const toSocketIo = await startHostileProxy(ioUrl, profile.settings);
  const t = await measure(tidings(toTidings.url));
  // The next page load: the transport that won is remembered (here in the process's memory) and goes first.
  await tidings(toTidings.url, 'memory')();
  const remembered = await measure(tidings(toTidings.url, 'memory'));
  const s = await measure(socketio(toSocketIo.url));
  const cell = (m) => (m.failed ? `no connection within ${GIVE_UP_MS / 1000} s` : `${m.median} ms (max ${m.max}) on ${m.transports}`);
  rows.push(`| ${name} | ${cell(t)} | ${cell(remembered)} | ${cell(s)} |`);
  await toTidings.stop();
  await toSocketIo.stop();
}
ioServer.close();
await server.stop();

const table = [
  `| proxy profile | Tidings JS client, first connection | Tidings, transport remembered (next page load) | Socket.IO client 4.8, default options |`,
  `|---|---|---|---|`,
  ...rows,
  '',
  `${runs} connections each, ${new Date().toISOString().slice(0, 10)}.`,
].join('\n');
console.log(table);
if (into) {
  const text = readFileSync(into, 'utf8');
  const start = '<!-- connect-times -->';
  const end = '<!-- /connect-times -->';
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  if (from < 0 || to < from) throw new Error(`${into} has no ${start} ... ${end} markers`);
  writeFileSync(into, `${text.slice(0, from + start.length)}\n${table}\n${text.slice(to)}`);
}
process.exit(0);
