// Builds the trading ticker's front-end (src/app.js with lightweight-charts, which needs no stylesheet) into
// ../static/app.js: see ../../web-bundle.mjs.   node build.mjs  writes it;  node build.mjs --check  checks it.
import * as esbuild from 'esbuild';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { bundle } from '../../web-bundle.mjs';

const web = path.dirname(fileURLToPath(import.meta.url));
// The library's own notice (name, version, copyright), which its licence asks to keep, from its bundle's header.
const header = await readFile(path.join(web, 'node_modules/lightweight-charts/dist/lightweight-charts.production.mjs'), 'utf8');
const notice = header.slice(0, header.indexOf('*/')).split('\n')
  .map((line) => line.replace(/^\s*\/?\*!?\s?/, '').trim()).filter((line) => line && line !== '@license').join(', ');

await bundle(esbuild, {
  web,
  title: 'Tidings trading ticker',
  notice: `${notice} (https://www.tradingview.com/) and fancy-canvas (MIT License)`,
  define: { 'process.env.NODE_ENV': '"production"' },
});
