// Starts target/debug/hostile-proxy (tests/src/hostile_proxy.rs) in front of a server, for the Node and browser
// tests: a proxy that refuses or hangs WebSocket upgrades, buffers streamed responses, holds streams or cuts idle
// connections, as its settings say. Only Node built-ins, so that every test package can import it.

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const PROXY_BIN = process.env.TIDINGS_HOSTILE_PROXY ?? path.join(repo, 'target', 'debug', 'hostile-proxy');

/** The proxy profiles of the fallback tests, and the transport a client behind each should end up on. */
export const PROFILES = {
  /** WebSocket upgrades refused with 403 at once. */
  'upgrades refused': { settings: ['upgrades=refuse'], transport: 'sse' },
  /** WebSocket upgrades accepted and never answered. */
  'upgrades hanging': { settings: ['upgrades=hang'], transport: 'sse' },
  /** A corporate proxy: upgrades refused, responses buffered up to 256 KiB, so SSE events never come through. */
  'SSE buffered': { settings: ['upgrades=refuse', 'buffer=262144'], transport: 'longpoll' },
  /** The worst: upgrades hanging, and SSE buffered. */
  'upgrades hanging, SSE buffered': { settings: ['upgrades=hang', 'buffer=262144'], transport: 'longpoll' },
  /** Nothing in the way. */
  direct: { settings: ['transparent'], transport: 'websocket' },
};

/**
 * Starts a proxy to `target` (an `http://host:port/...` URL; its origin is the backend) with `settings`. Resolves
 * with `{ url, origin, set(...settings), stop() }`: `url` is `target` through the proxy; `set` changes the
 * settings of connections accepted from then on; `stop` ends that process, by its handle.
 */
export async function startHostileProxy(target, settings = []) {
  if (!existsSync(PROXY_BIN)) {
    throw new Error(`${PROXY_BIN} does not exist: build it with \`cargo build -p tidings-tests --bin hostile-proxy\``);
  }
  const backend = new URL(target);
  const child = spawn(PROXY_BIN, ['--backend', backend.host, ...settings], {
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'warn' },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout });
  const answers = [];
  const origin = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('hostile-proxy did not print its address within 10 s')), 10_000);
    lines.on('line', (line) => {
      const match = line.match(/^listening on (http:\/\/\S+)/);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      } else {
        answers.shift()?.(line);
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`hostile-proxy exited (${code ?? signal}) before listening`));
    });
  });
  const url = new URL(target);
  url.host = new URL(origin).host;
  return {
    url: url.href.replace(/\/+$/, ''),
    origin,
    /** Applies more settings to the connections accepted from now on. */
    set(...more) {
      return new Promise((resolve, reject) => {
        answers.push((line) => (line === 'ok' ? resolve() : reject(new Error(`hostile-proxy: ${line}`))));
        child.stdin.write(`${more.join(' ')}\n`);
      });
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.stdin.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 2_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
