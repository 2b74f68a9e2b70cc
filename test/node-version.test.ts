// The CLIs on an older Node (the machine's own, when it has one): re-run on the Node 24 that npm
// ci installed, or say in one line which version is needed.

import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = new URL('../', import.meta.url).pathname;

function oldNode(): string | undefined {
  for (const candidate of ['/usr/bin/node', '/usr/local/bin/node']) {
    try {
      const v = execFileSync(candidate, ['-p', 'process.versions.node'], { encoding: 'utf8' }).trim();
      if (Number(v.split('.')[0]) < 24) return candidate;
    } catch { /* not there */ }
  }
  return undefined;
}

const node = oldNode();
const lone = mkdtempSync(join(tmpdir(), 'sledge-nonode-'));
afterAll(() => rmSync(lone, { recursive: true, force: true }));

describe.skipIf(!node)('an older Node', () => {
  it('re-runs the CLI on the Node 24 installed by npm ci', () => {
    const r = spawnSync(node!, [join(root, 'bin/sledgec.js'), '--help'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('usage:');
  });

  it('without it, fails with one coded line naming the version needed', () => {
    // The launcher alone, with no node_modules beside it.
    cpSync(join(root, 'bin'), join(lone, 'bin'), { recursive: true });
    const r = spawnSync(node!, [join(lone, 'bin/sledge-loader.js'), 'run', 'x.sledge'], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^sledge-loader: error\[NODE_VERSION\]: Node\.js 24 or newer is required \(this is v\d+\.\d+\.\d+\)\n  hint: .+\n$/);
  });
});
