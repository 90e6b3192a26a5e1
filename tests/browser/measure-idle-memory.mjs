// Measures the server's memory per idle Tidings session over WebSocket, with permessage-deflate negotiated in each
// mode (and without). Not a test: run it by hand after `cargo build --release -p tidings-tests --bin ws-echo`.
//
//   node measure-idle-memory.mjs [connections] [profile]      (defaults: 2000, release)
//
// For each mode it starts ws-echo, opens the connections to /realtime/ws (each gets its welcome, then idles),
// and reports (RSS after - RSS before) / connections, from /proc/<pid>/status.
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';
import { startExample } from './support.mjs';

const count = Number(process.argv[2] ?? 2000);
const profile = process.argv[3] ?? 'release';
const rss = (pid) => Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)[1]); // KiB
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

for (const [mode, offer] of [['off', false], ['shared', true], ['dedicated', true]]) {
  const server = await startExample('ws-echo', { args: [mode, '127.0.0.1:0'], profile });
  try {
    await measure(mode, offer, server);
  } finally {
    await server.stop();
  }
}

async function measure(mode, offer, server) {
  const url = server.url.replace('http:', 'ws:') + '/realtime/ws';
  // Warm up allocator arenas and the worker threads before the baseline.
  const warm = await Promise.all(Array.from({ length: 50 }, () => open(url, offer)));
  warm.forEach((ws) => ws.close());
  await sleep(1000);
  const before = rss(server.pid);
  const sockets = [];
  for (let i = 0; i < count; i += 200) {
    sockets.push(...(await Promise.all(Array.from({ length: Math.min(200, count - i) }, () => open(url, offer)))));
  }
  await sleep(2000);
  const after = rss(server.pid);
  // `extensions` is the negotiated Sec-WebSocket-Extensions value.
  const negotiated = sockets.filter((ws) => String(ws.extensions).includes('permessage-deflate')).length;
  console.log(`${mode.padEnd(9)} ${count} sessions, deflate negotiated on ${negotiated}: ${((after - before) / count).toFixed(2)} KiB per idle session (RSS ${before} -> ${after} KiB)`);
  sockets.forEach((ws) => ws.terminate());
}

/** Opens a connection and resolves once the server's welcome arrived. */
function open(url, offer) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: offer });
    ws.once('message', () => resolve(ws));
    ws.once('error', reject);
  });
}
