// Builds the dashboard's front-end (src/app.js with uPlot, and uPlot's stylesheet) into ../static: see
// ../../web-bundle.mjs.   node build.mjs  writes them;  node build.mjs --check  checks the committed ones.
import * as esbuild from 'esbuild';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { bundle } from '../../web-bundle.mjs';

const web = path.dirname(fileURLToPath(import.meta.url));
const uplot = JSON.parse(await readFile(path.join(web, 'node_modules/uplot/package.json'), 'utf8'));

await bundle(esbuild, {
  web,
  title: 'Tidings dashboard',
  notice: `uPlot ${uplot.version} (MIT License, Copyright (c) 2022 Leon Sorokin)`,
  copies: [{ from: 'node_modules/uplot/dist/uPlot.min.css', to: 'uPlot.min.css' }],
});
