// Builds the collaborative editor's front-end (src/app.js with Yjs) into ../static/app.js: see
// ../../web-bundle.mjs.   node build.mjs  writes it;  node build.mjs --check  checks the committed one.
import * as esbuild from 'esbuild';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { bundle } from '../../web-bundle.mjs';

const web = path.dirname(fileURLToPath(import.meta.url));
const notice = [];
for (const name of ['yjs', 'lib0']) {
  const meta = JSON.parse(await readFile(path.join(web, 'node_modules', name, 'package.json'), 'utf8'));
  const author = typeof meta.author === 'string' ? meta.author.replace(/\s*<[^>]*>/, '') : meta.author?.name;
  notice.push(`${name} ${meta.version} (${meta.license} License, (c) ${author})`);
}

await bundle(esbuild, { web, title: 'Tidings editor', notice: notice.join(' and ') });
