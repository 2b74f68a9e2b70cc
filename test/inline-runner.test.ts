// The listener thread's own runs (runtime/inline-runner.ts): which functions qualify, that a run
// there answers as a worker would, and that a function whose runs turn out slow goes back to the
// workers.

import { describe, expect, it } from 'vitest';
import { loadBundle } from '../loader/bundle.ts';
import { createModuleContext } from '../loader/module-context.ts';
import { InlineRunner, runsInline } from '../runtime/inline-runner.ts';
import type { SandboxModule } from '../runtime/sandbox-module.ts';
import { cStrings } from '../runtime/wasi/c-strings.ts';
import { buildFixture } from './helpers/fixtures.ts';

async function sandbox(name: string): Promise<SandboxModule> {
  const path = await buildFixture(name);
  return (await createModuleContext(await loadBundle(path), path, name)).sandbox;
}

const req = (id: number, ...args: string[]) => ({ id, argv: cStrings(['f', ...args]), env: cStrings([]), stdin: new Uint8Array() });
const text = (b: Uint8Array) => Buffer.from(b).toString();

describe('InlineRunner', () => {
  it('takes functions with a small run bound and a reusable instance, nothing else', async () => {
    for (const name of ['empty', 'commands/state.wat', 'commands/trap.wat']) {
      const m = await sandbox(name);
      expect(m.runBound, name).toBeLessThan(100);
      expect(runsInline(m), name).toBe(true);
    }
    for (const name of ['hello', 'fibonacci']) {
      const m = await sandbox(name);
      expect(m.runBound, name).toBeUndefined();
      expect(runsInline(m), name).toBe(false);
    }
    const runner = new InlineRunner();
    runner.add(1, await sandbox('hello'));
    expect(runner.has(1)).toBe(false);
    expect(runner.run(1, req(1))).toBeUndefined();
  });

  it('answers like a worker: output, traps with their reason, fresh state on every run', async () => {
    const runner = new InlineRunner();
    runner.add(1, await sandbox('commands/state.wat'));
    runner.add(2, await sandbox('commands/trap.wat'));
    for (let i = 0; i < 5; i++) {
      const st = runner.run(1, req(10 + i))!;
      expect([st.id, st.exitCode, text(st.stdout)]).toEqual([10 + i, 0, 'runs=1 data=fresh\n']);
      const t = runner.run(2, req(20 + i, 'x'))!;
      expect(t.trap?.kind).toBe('unreachable');
      expect(text(t.stdout)).toBe('before trap\n');
      expect(text(runner.run(2, req(30 + i))!.stdout)).toBe('ok\n');
    }
  });

  it('sends a function whose runs are often slow back to the workers, and says so', async () => {
    const slow: string[] = [];
    const runner = new InlineRunner((name) => slow.push(name));
    const m = await sandbox('commands/bigwrite.wat'); // 32 MiB of output per run, ~ms each
    expect(runsInline(m)).toBe(true);
    runner.add(1, m);
    let runs = 0;
    while (runner.has(1) && runs < 100) {
      expect(runner.run(1, req(runs))!.stdout.length).toBe(32 * 1024 * 1024);
      runs++;
    }
    expect(runner.has(1)).toBe(false);
    expect(runs).toBeGreaterThan(16); // not on the first, cold runs
    expect(slow).toEqual(['commands/bigwrite.wat']);
  });
});
