// The examples' front-end build, shared by examples/*/web/build.mjs: bundles web/src/app.js (and the npm
// libraries it imports) into static/app.js, copies any other files a page needs into static/, and with --check
// fails instead if the committed files are not what the sources build to (CI: npm ci && npm run check). The
// bundles are committed so that `cargo run` embeds them without Node. Same sources and pinned versions, same bytes.
//
// esbuild is passed in by the caller, as it is installed in the caller's node_modules, not next to this file.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * @param esbuild   the caller's `import * as esbuild from 'esbuild'`
 * @param web       the example's web/ folder (absolute)
 * @param title     what the banner calls the bundle ("Tidings dashboard")
 * @param notice    the bundled libraries' names, versions and licences, which their licences ask to keep
 * @param define    esbuild `define`s
 * @param copies    other files for static/: [{ from: path under web/, to: file name in static/ }]
 */
export async function bundle(esbuild, { web, title, notice, define = {}, copies = [] }) {
  const check = process.argv.includes('--check');
  const example = path.basename(path.dirname(web));
  const staticDir = path.join(web, '..', 'static');
  const result = await esbuild.build({
    absWorkingDir: web,
    entryPoints: ['src/app.js'],
    bundle: true,
    minify: true,
    format: 'iife',
    target: 'es2019',
    platform: 'browser',
    legalComments: 'none',
    charset: 'utf8',
    define,
    banner: { js: `/* ${title}: built from examples/${example}/web (npm run build); do not edit. Includes ${notice}. */` },
    write: false,
    outfile: path.join(staticDir, 'app.js'),
    logLevel: 'warning',
  });
  const outputs = [{ file: path.join(staticDir, 'app.js'), bytes: result.outputFiles[0].contents }];
  for (const { from, to } of copies) {
    outputs.push({ file: path.join(staticDir, to), bytes: await readFile(path.join(web, from)) });
  }

  let stale = 0;
  for (const { file, bytes } of outputs) {
    const name = path.relative(path.join(web, '..'), file);
    if (check) {
      const committed = await readFile(file).catch(() => null);
      if (!committed || !Buffer.from(bytes).equals(committed)) {
        console.error(`${name} is not what the sources build to: run \`npm run build\` in examples/${example}/web and commit it`);
        stale++;
      }
    } else {
      await writeFile(file, bytes);
      console.log(`${name}: ${bytes.length} bytes`);
    }
  }
  if (stale) process.exit(1);
  if (check) console.log(`examples/${example}: ${outputs.map((o) => path.basename(o.file)).join(', ')} up to date`);
}
