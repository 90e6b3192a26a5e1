// Builds the browser bundle: one minified ES2017 IIFE that exposes the package as the global `Tidings`, written to
// dist/tidings.browser.js and to framework/tidings/assets/tidings.js, which the Rust server embeds and serves at
// /realtime/tidings.js. The output depends only on the sources and the pinned esbuild version, so that a check can
// rebuild it and compare.
//
//   node scripts/bundle.mjs           build both files
//   node scripts/bundle.mjs --check   fail if the committed asset differs from a fresh build

import { build } from 'esbuild';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const pkg = JSON.parse(await readFile(path.join(root, 'package.json'), 'utf8'));
const outputs = [
  path.join(root, 'dist', 'tidings.browser.js'),
  path.resolve(root, '..', '..', 'framework', 'tidings', 'assets', 'tidings.js'),
];

const result = await build({
  absWorkingDir: root,
  entryPoints: ['src/index.ts'],
  bundle: true,
  format: 'iife',
  globalName: 'Tidings',
  platform: 'browser',
  target: 'es2017',
  minify: true,
  legalComments: 'none',
  charset: 'utf8',
  banner: {
    js: `/* ${pkg.name} ${pkg.version} (protocol v1), built from clients/js by \`npm run build\`: do not edit. */`,
  },
  write: false,
  logLevel: 'warning',
});
const code = result.outputFiles[0].text;

if (process.argv.includes('--check')) {
  const committed = await readFile(outputs[1], 'utf8').catch(() => '');
  if (committed !== code) {
    console.error(`${path.relative(process.cwd(), outputs[1])} is out of date: run \`npm run build\` in clients/js`);
    process.exit(1);
  }
  console.log('browser bundle is up to date');
} else {
  for (const file of outputs) {
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, code);
  }
  console.log(`browser bundle: ${code.length} bytes`);
}
