// Smoke test for the peer servers: starts each one on port 0, connects three
// raw `ws` clients, has one of them publish 5 messages and checks that all
// three receive all 5, in order, exactly as described in README.md.
//
// Socket.IO is driven by speaking the raw engine.io v4 / socket.io v5 protocol
// over a plain WebSocket (no socket.io-client), the same way a load generator
// would. The whole run is bounded: it exits non-zero after 20 s at most.
//
// Usage: node smoke.mjs        (exit code 0 = all passed)
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';

const HOST = '127.0.0.1';
const CLIENTS = 3;
const MESSAGES = 5;
const TOTAL_TIMEOUT_MS = 20_000;
const STEP_TIMEOUT_MS = 5_000;

const children = new Set();

// Hard bound on the whole run.
const watchdog = setTimeout(() => {
  console.error(`FAIL: smoke test did not finish within ${TOTAL_TIMEOUT_MS} ms`);
  for (const c of children) c.kill('SIGKILL');
  process.exit(1);
}, TOTAL_TIMEOUT_MS);
watchdog.unref();

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

// ---------------------------------------------------------------- children

async function startServer(script) {
  const path = fileURLToPath(new URL(script, import.meta.url));
  const child = spawn(process.execPath, [path, '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.stdoutText = '';
  child.stderrText = '';
  child.exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      children.delete(child);
      resolve({ code, signal });
    });
  });
  child.stderr.on('data', (d) => { child.stderrText += d; });
  const port = await withTimeout(new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => {
      child.stdoutText += d;
      const m = /^listening on (\d+)\n/.exec(child.stdoutText);
      if (m) resolve(Number(m[1]));
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => reject(new Error(
      `${script} exited early (code ${code}, signal ${signal}): ${child.stderrText.trim()}`)));
  }), STEP_TIMEOUT_MS, `${script} to print "listening on PORT"`)
    .catch((err) => { child.kill('SIGKILL'); throw err; });
  if (!(port > 0)) throw new Error(`${script} reported bad port ${port}`);
  return { child, port };
}

async function stopServer(child, script) {
  child.kill(); // SIGTERM, to this child's PID only
  const { code, signal } = await withTimeout(child.exited, 3_000, `${script} to exit after SIGTERM`)
    .catch((err) => { child.kill('SIGKILL'); throw err; });
  if (code !== 0) throw new Error(`${script} exited with code ${code}, signal ${signal}: ${child.stderrText.trim()}`);
  const lines = child.stdoutText.split('\n').filter((l) => l !== '');
  if (lines.length !== 1) throw new Error(`${script} printed ${lines.length} stdout lines, expected 1: ${JSON.stringify(child.stdoutText)}`);
}

// ----------------------------------------------------------------- clients

function openSocket(url) {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  ws.received = [];
  ws.waiters = [];
  ws.on('message', (data, isBinary) => {
    const item = { text: data.toString('utf8'), isBinary };
    ws.received.push(item);
    for (const w of [...ws.waiters]) w();
  });
  ws.on('error', () => {}); // surfaced through 'close' / timeouts
  return withTimeout(new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode} for ${url}`)));
  }), STEP_TIMEOUT_MS, `WebSocket open ${url}`);
}

// Resolves once `pred(ws.received)` is true (re-checked on every message).
function waitFor(ws, pred, what) {
  return withTimeout(new Promise((resolve, reject) => {
    const check = () => {
      if (pred(ws.received)) {
        ws.waiters = ws.waiters.filter((w) => w !== check);
        ws.off('close', onClose);
        resolve();
      }
    };
    const onClose = (code) => reject(new Error(`connection closed (code ${code}) while waiting for ${what}`));
    ws.waiters.push(check);
    ws.once('close', onClose);
    check();
  }), STEP_TIMEOUT_MS, what);
}

function closeAll(sockets) {
  for (const ws of sockets) ws.terminate();
}

// --------------------------------------------------------------------- ws

async function testWs() {
  const script = 'ws-server.mjs';
  const { child, port } = await startServer(script);
  const sockets = [];
  try {
    for (let i = 0; i < CLIENTS; i++) sockets.push(await openSocket(`ws://${HOST}:${port}/`));
    const sent = [];
    for (let i = 0; i < MESSAGES; i++) {
      const text = JSON.stringify({ seq: i, body: `hello ${i}` });
      sent.push(text);
      sockets[0].send(text); // string => text frame
    }
    await Promise.all(sockets.map((ws, k) =>
      waitFor(ws, (r) => r.length >= MESSAGES, `ws client ${k} to receive ${MESSAGES} messages`)));
    await new Promise((r) => setTimeout(r, 100)); // catch any extra frames
    sockets.forEach((ws, k) => {
      const got = ws.received;
      if (got.length !== MESSAGES) throw new Error(`ws client ${k}: got ${got.length} frames, expected ${MESSAGES}`);
      got.forEach((m, i) => {
        if (m.isBinary) throw new Error(`ws client ${k}: frame ${i} arrived as binary, expected text`);
        if (m.text !== sent[i]) throw new Error(`ws client ${k}: frame ${i} = ${JSON.stringify(m.text)}, expected ${JSON.stringify(sent[i])}`);
      });
    });
  } finally {
    closeAll(sockets);
    await stopServer(child, script);
  }
  return `port ${port}, ${CLIENTS} clients x ${MESSAGES} text frames, in order`;
}

// -------------------------------------------------------------- socket.io

// Connects one raw engine.io v4 client and joins the default namespace.
async function socketIoConnect(port, k) {
  const ws = await openSocket(`ws://${HOST}:${port}/socket.io/?EIO=4&transport=websocket`);
  // engine.io heartbeat: server sends "2" (ping), client must answer "3" (pong).
  ws.on('message', (data) => { if (data.toString() === '2') ws.send('3'); });

  // 1. engine.io open packet: 0{"sid":...,"upgrades":[],"pingInterval":...}
  await waitFor(ws, (r) => r.length >= 1, `socket.io client ${k}: engine.io open packet`);
  const open = ws.received[0];
  if (open.isBinary || open.text[0] !== '0') throw new Error(`socket.io client ${k}: expected open packet, got ${JSON.stringify(open.text)}`);
  const hs = JSON.parse(open.text.slice(1));
  if (typeof hs.sid !== 'string' || !Array.isArray(hs.upgrades) || hs.upgrades.length !== 0
      || hs.pingInterval !== 25000 || hs.pingTimeout !== 20000 || typeof hs.maxPayload !== 'number') {
    throw new Error(`socket.io client ${k}: unexpected open packet ${open.text}`);
  }

  // 2. connect to the default namespace "/" and wait for 40{"sid":...}.
  //    Publishing before this reply arrives can get the connection closed.
  ws.send('40');
  await waitFor(ws, (r) => r.length >= 2, `socket.io client ${k}: namespace connect reply`);
  const ack = ws.received[1];
  if (!ack.text.startsWith('40{')) throw new Error(`socket.io client ${k}: expected 40{...}, got ${JSON.stringify(ack.text)}`);
  const connect = JSON.parse(ack.text.slice(2));
  if (typeof connect.sid !== 'string') throw new Error(`socket.io client ${k}: no sid in ${ack.text}`);

  ws.received = []; // from here on only count application messages
  return ws;
}

async function testSocketIo() {
  const script = 'socketio-server.mjs';
  const { child, port } = await startServer(script);
  const sockets = [];
  try {
    for (let i = 0; i < CLIENTS; i++) sockets.push(await socketIoConnect(port, i));
    const expected = [];
    for (let i = 0; i < MESSAGES; i++) {
      const payload = { seq: i, body: `hello ${i}` };
      sockets[0].send(`42${JSON.stringify(['pub', payload])}`);
      expected.push(`42${JSON.stringify(['msg', payload])}`);
    }
    const appMessages = (r) => r.filter((m) => m.text !== '2');
    await Promise.all(sockets.map((ws, k) =>
      waitFor(ws, (r) => appMessages(r).length >= MESSAGES, `socket.io client ${k} to receive ${MESSAGES} messages`)));
    await new Promise((r) => setTimeout(r, 100)); // catch any extra frames
    sockets.forEach((ws, k) => {
      const got = appMessages(ws.received);
      if (got.length !== MESSAGES) throw new Error(`socket.io client ${k}: got ${got.length} frames, expected ${MESSAGES}: ${JSON.stringify(got.map((m) => m.text))}`);
      got.forEach((m, i) => {
        if (m.isBinary) throw new Error(`socket.io client ${k}: frame ${i} arrived as binary`);
        if (m.text !== expected[i]) throw new Error(`socket.io client ${k}: frame ${i} = ${JSON.stringify(m.text)}, expected ${JSON.stringify(expected[i])}`);
      });
    });
  } finally {
    closeAll(sockets);
    await stopServer(child, script);
  }
  return `port ${port}, ${CLIENTS} clients x ${MESSAGES} 42["msg",...] frames, in order`;
}

// ------------------------------------------------------------------- main

let passed = 0;
let failed = 0;
for (const [name, test] of [['ws', testWs], ['socket.io', testSocketIo]]) {
  const t0 = Date.now();
  try {
    const detail = await test();
    passed++;
    console.log(`ok   ${name}: ${detail} (${Date.now() - t0} ms)`);
  } catch (err) {
    failed++;
    console.log(`FAIL ${name}: ${err.message}`);
  }
}
for (const c of children) c.kill('SIGKILL'); // only if a stop above failed
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
