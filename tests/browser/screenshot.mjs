// Saves a screenshot of an example app: node screenshot.mjs <name> <out.png> [query]
// Starts target/debug/<name> (support.mjs), opens its page at 1280x800 (`query` appended to the URL, e.g.
// "?transport=sse"), waits until the page is ready, and writes a PNG. "Ready" is the example's own condition in
// `recipes` below when it has one (looked up by name; READY=<name> picks another), else 3 seconds. A recipe may also
// open other pages first (`setup`) so that the screenshot shows some activity.
import path from 'node:path';
import { mkdir } from 'node:fs/promises';
import { startExample, launchBrowser } from './support.mjs';

const recipes = {
  // The chat: ann (the screenshot) and bob in the lobby, a few lines each way.
  chat: {
    async setup(context, url, page) {
      const signIn = async (p, nick) => {
        await p.fill('#nick', nick);
        await p.press('#nick', 'Enter');
        await p.waitForSelector('#status.up');
      };
      await signIn(page, 'ann');
      const bob = await context.newPage();
      await bob.goto(url);
      await signIn(bob, 'bob');
      const say = async (p, text) => {
        await p.fill('#text', text);
        await p.press('#text', 'Enter');
        await new Promise((r) => setTimeout(r, 300));
      };
      await say(bob, 'morning! is the deploy still on for today?');
      await say(page, 'yes, after the 2pm standup');
      await say(bob, 'great, I will watch the dashboard');
      await say(page, 'the long-polling clients survived the proxy change too');
    },
    ready: () => document.querySelectorAll('#log .line').length >= 4,
  },
  // The ticker after a minute of market, so that the chart has a shape.
  'trading-ticker': {
    async setup() {
      await new Promise((r) => setTimeout(r, 60000));
    },
    ready: () => window.ticker?.chartPoints > 30,
  },
  // The dashboard while client pages come and go over each transport for a minute, so that the charts have a
  // shape.
  dashboard: {
    async setup(context, url) {
      const open = [];
      const steps = ['websocket', 'websocket', 'sse', 'longpoll', 'websocket', 'close', 'sse', 'longpoll', 'close', 'websocket'];
      for (const step of steps) {
        if (step === 'close') await open.shift().close();
        else {
          const page = await context.newPage();
          await page.goto(`${url}/client?transport=${step}`);
          open.push(page);
        }
        await new Promise((r) => setTimeout(r, 6000));
      }
    },
    ready: () => window.dashboard?.points > 10 && document.querySelectorAll('#topics tr').length > 0,
    settle: 2000,
  },
};

const [name, out, query = ''] = process.argv.slice(2);
if (!name || !out) {
  console.error('usage: node screenshot.mjs <name> <out.png> [query]');
  process.exit(2);
}
const recipe = recipes[process.env.READY ?? name];

const app = await startExample(name);
const browser = await launchBrowser();
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  page.on('pageerror', (e) => console.error('page error:', String(e)));
  await page.goto(app.url + (query.startsWith('/') || query.startsWith('?') || !query ? query : `/${query}`));
  if (recipe?.setup) await recipe.setup(context, app.url, page);
  if (recipe?.ready) await page.waitForFunction(recipe.ready, undefined, { timeout: 60000 });
  await page.waitForTimeout(recipe ? recipe.settle ?? 500 : 3000);
  await mkdir(path.dirname(path.resolve(out)), { recursive: true });
  await page.screenshot({ path: out });
  console.log(`saved ${out}`);
} finally {
  await browser.close();
  await app.stop();
}
