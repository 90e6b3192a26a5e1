// Shared by the browser tests: start an example app on a free loopback port, and launch Debian's Chromium.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { chromium } from 'playwright-core';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * Starts a built binary (target/debug/<name>, with `args`) that listens on 127.0.0.1 and an OS-chosen port and
 * prints `listening on http://ADDR`; resolves to that URL and a stop function.
 */
export async function startExample(name, { args = [], env = {}, profile = 'debug' } = {}) {
  const bin = path.join(root, 'target', profile, name);
  const child = spawn(bin, args, {
    env: {
      ...process.env,
      CHAT_ADDR: '127.0.0.1:0', TICKER_ADDR: '127.0.0.1:0', EDITOR_ADDR: '127.0.0.1:0', DASHBOARD_ADDR: '127.0.0.1:0',
      RUST_LOG: 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout });
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not print its address within 20 s`)), 20000);
    lines.on('line', (line) => {
      const match = line.match(/listening on (http:\/\/\S+)/);
      if (match) { clearTimeout(timer); resolve(match[1]); }
    });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`${name} exited with ${code}`)); });
  });
  return {
    url,
    pid: child.pid,
    async stop() {
      // Only the process this test started, by its own handle.
      if (child.exitCode === null) { child.kill('SIGTERM'); await once(child, 'exit'); }
    },
  };
}

/** Debian's Chromium, headless, with the flags this sandbox needs. */
export function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
  });
}
