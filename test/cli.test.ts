// The CLIs as a user runs them (spawned): the build → run story, exit statuses, traps, signing,
// and bad inputs, each refused with its own error code, a non-zero exit and no stack trace. Error
// texts and `sledgec inspect` output are golden files (test/golden; UPDATE_GOLDEN=1 rewrites them).

import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { customSection, readSections } from '../contract/wasm-sections.ts';
import { MANIFEST_SECTION, type Manifest } from '../contract/manifest.ts';
import { writeBundle } from '../compiler/bundle-writer.ts';
import { TRAP_EXIT_CODE } from '../runtime/sandbox.ts';
import { buildFixture, cli, fixturePath, hasEmcc, TMP, type CliResult } from './helpers/fixtures.ts';

const GOLDEN = join(import.meta.dirname, 'golden');
const UPDATE = process.env.UPDATE_GOLDEN === '1';
/** Every command runs here with relative paths, so messages hold no temp paths. */
const dir = mkdtempSync(join(TMP, 'cli-'));
const at = (f: string) => join(dir, f);

function once<T>(make: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => (p ??= make());
}

const sledgec = (args: string[], stdin?: string) => cli('sledgec', args, { cwd: dir, ...(stdin !== undefined ? { stdin } : {}) });
const loader = (args: string[], stdin?: string) => cli('sledge-loader', args, { cwd: dir, ...(stdin !== undefined ? { stdin } : {}) });

function expectClean(r: CliResult): void {
  expect(r.stderr).not.toMatch(/^ {4}at /m);
  expect(r.stderr).not.toContain('internal error');
}

// The story: sledgec build fixtures/c/fibonacci.c -o X.
const fib = once(async () => {
  const r = await sledgec(['build', fixturePath('fibonacci'), '-o', 'fib.sledge']);
  expect(r.code, r.stderr).toBe(0);
  expect(r.stderr).toMatch(/^sledgec: wrote fib\.sledge \(\d+\.\d KiB, bounds guard, \d+ yield points\)\n$/);
  return 'fib.sledge';
});

const keys = once(async () => {
  const ids: Record<string, string> = {};
  for (const name of ['me', 'other']) {
    const r = await sledgec(['keygen', '-o', name]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.startsWith(`wrote ${name}.key (private, keep it secret) and ${name}.pub`), r.stdout).toBe(true);
    const m = /\(key id ([0-9a-f]{16})\)\n$/.exec(r.stdout);
    expect(m, r.stdout).not.toBeNull();
    expect(existsSync(at(`${name}.key`)) && existsSync(at(`${name}.pub`))).toBe(true);
    ids[name] = m![1]!;
  }
  return ids as { me: string; other: string };
});

const signedFib = once(async () => {
  await keys();
  const r = await sledgec(['build', fixturePath('fibonacci'), '--sign', 'me.key', '-o', 'fib-signed.sledge']);
  expect(r.code, r.stderr).toBe(0);
  expect(r.stderr).toMatch(/, signed\)\n$/);
  return 'fib-signed.sledge';
});

/** A fixture built in-process (helpers), copied here under a short name. */
async function bundle(name: string, as: string, opts: Parameters<typeof buildFixture>[1] = {}): Promise<string> {
  copyFileSync(await buildFixture(name, opts), at(as));
  return as;
}

function flipCodeByte(src: string, dst: string): string {
  const bytes = new Uint8Array(readFileSync(at(src)));
  const code = readSections(bytes, src).find((s) => s.id === 10)!;
  bytes[(code.payloadStart + code.end) >> 1]! ^= 0x01;
  writeFileSync(at(dst), bytes);
  return dst;
}

describe('build and run', () => {
  it('sledge-loader run X 30 prints fib(30)', async () => {
    const r = await loader(['run', await fib(), '30']);
    expect(r).toMatchObject({ code: 0, stdout: '832040\n', stderr: '' });
  });

  it('echo 30 | sledge-loader run X reads n from stdin', async () => {
    const r = await loader(['run', await fib()], '30\n');
    expect(r).toMatchObject({ code: 0, stdout: '832040\n', stderr: '' });
  });

  it.skipIf(!hasEmcc)('sledgec build --cc emcc', async () => {
    const b = await sledgec(['build', '--cc', 'emcc', fixturePath('fibonacci'), '-o', 'fib-emcc.sledge']);
    expect(b.code, b.stderr).toBe(0);
    expect((await loader(['run', 'fib-emcc.sledge', '25'])).stdout).toBe('75025\n');
  });

  it("the function's exit status is the loader's", async () => {
    const b = await bundle('exitcode', 'exitcode.sledge');
    expect(await loader(['run', b, '3'])).toMatchObject({ code: 3, stdout: 'exit 3\n', stderr: '' });
    expect(await loader(['run', b, '0'])).toMatchObject({ code: 0, stdout: 'exit 0\n', stderr: '' });
  });

  it('a trap exits non-zero with one line on stderr', async () => {
    const b = await bundle('divzero', 'divzero.sledge');
    const r = await loader(['run', b]);
    expect(r).toMatchObject({ code: TRAP_EXIT_CODE, stdout: '', stderr: 'sledge-loader: trap: integer divide by zero\n' });
  });

  it('a --bounds none bundle runs with --unsafe-unchecked-memory', async () => {
    const b = await bundle('fibonacci', 'fib-none.sledge', { bounds: 'none' });
    expect(await loader(['run', '--unsafe-unchecked-memory', b, '10'])).toMatchObject({ code: 0, stdout: '55\n', stderr: '' });
  });
});

describe('signing', () => {
  it('keygen, build --sign, verify --key, run --key', async () => {
    const { me } = await keys();
    const b = await signedFib();
    const v = await sledgec(['verify', b, '--key', 'me.pub']);
    expect(v.code, v.stderr).toBe(0);
    expect(v.stdout).toMatch(new RegExp(`^fib-signed\\.sledge: ok \\(module sha256 [0-9a-f]{16}, signed by key ${me}\\)\\n$`));
    expect(await loader(['run', '--key', 'me.pub', b, '12'])).toMatchObject({ code: 0, stdout: '144\n' });
  });

  it('verify without a key checks integrity of an unsigned bundle', async () => {
    const v = await sledgec(['verify', await fib()]);
    expect(v.code, v.stderr).toBe(0);
    expect(v.stdout).toMatch(/^fib\.sledge: ok \(module sha256 [0-9a-f]{16}, not signed\)\n$/);
  });

  it('keygen never overwrites a key', async () => {
    await keys();
    const r = await sledgec(['keygen', '-o', 'me']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/^sledgec: error\[KEY_EXISTS\]/);
  });
});

// Golden files: the command, its exit status and its output, with key ids normalized.
async function golden(name: string, r: CliResult, cmd: string): Promise<void> {
  const ids = await keys();
  const norm = (s: string) => s.split(dir).join('$TMP').split(ids.me).join('<key-id:me>').split(ids.other).join('<key-id:other>');
  let text = `$ ${cmd}\nexit ${r.code}\n`;
  if (r.stdout) text += `--- stdout\n${norm(r.stdout)}`;
  if (r.stderr) text += `--- stderr\n${norm(r.stderr)}`;
  const file = join(GOLDEN, `${name}.txt`);
  if (UPDATE) {
    mkdirSync(GOLDEN, { recursive: true });
    writeFileSync(file, text);
    return;
  }
  expect(existsSync(file), `${file} is missing: run with UPDATE_GOLDEN=1`).toBe(true);
  expect(text, `differs from test/golden/${name}.txt (UPDATE_GOLDEN=1 rewrites it)`).toBe(readFileSync(file, 'utf8'));
}

interface BadInput {
  name: string;
  code: string;
  prepare?: () => Promise<unknown>;
  prog: 'sledgec' | 'sledge-loader';
  args: string[];
}

const write = (f: string, content: string | Uint8Array) => async () => writeFileSync(at(f), content);

async function withManifest(src: string, dst: string, edit: (m: Manifest) => void): Promise<void> {
  const bytes = new Uint8Array(readFileSync(at(src)));
  const m = JSON.parse(new TextDecoder().decode(customSection(bytes, readSections(bytes, src), MANIFEST_SECTION)!)) as Manifest;
  edit(m);
  writeFileSync(at(dst), writeBundle(bytes, m).bytes);
}

// Type section: one () → (); function section: one function of type 5, which does not exist.
const INVALID_WASM = Uint8Array.of(0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1, 4, 1, 0x60, 0, 0, 3, 2, 1, 5);

const BAD: BadInput[] = [
  { name: 'build-c-syntax-error', code: 'CC_ERROR', prog: 'sledgec', args: ['build', 'syntax.c'], prepare: write('syntax.c', 'int main(void) { return 0 }\n') },
  { name: 'build-not-wasm', code: 'NOT_WASM', prog: 'sledgec', args: ['build', 'text.wasm'], prepare: write('text.wasm', 'hello, not wasm\n') },
  {
    name: 'build-truncated-wasm', code: 'WASM_TRUNCATED', prog: 'sledgec', args: ['build', 'truncated.wasm'],
    prepare: async () => writeFileSync(at('truncated.wasm'), readFileSync(at(await fib())).subarray(0, 100)),
  },
  {
    name: 'build-invalid-wat', code: 'WAT_PARSE', prog: 'sledgec', args: ['build', 'invalid.wat'],
    prepare: write('invalid.wat', '(module\n  (func (export "_start") (result i32)\n    (i64.const 0)))\n'),
  },
  { name: 'build-invalid-wasm', code: 'INVALID_MODULE', prog: 'sledgec', args: ['build', 'invalid.wasm'], prepare: write('invalid.wasm', INVALID_WASM) },
  {
    name: 'build-unknown-import', code: 'UNKNOWN_IMPORT', prog: 'sledgec', args: ['build', 'import.wat'],
    prepare: write('import.wat', '(module\n  (import "env" "foo" (func $foo (param i32)))\n  (func (export "_start") (call $foo (i32.const 1))))\n'),
  },
  { name: 'run-not-wasm', code: 'NOT_WASM', prog: 'sledge-loader', args: ['run', 'text.wasm'], prepare: write('text.wasm', 'hello, not wasm\n') },
  {
    name: 'run-truncated', code: 'WASM_TRUNCATED', prog: 'sledge-loader', args: ['run', 'truncated.sledge'],
    prepare: async () => writeFileSync(at('truncated.sledge'), readFileSync(at(await fib())).subarray(0, 1000)),
  },
  {
    name: 'run-plain-module', code: 'NOT_A_BUNDLE', prog: 'sledge-loader', args: ['run', 'plain.wasm'],
    prepare: write('plain.wasm', Uint8Array.of(0, 0x61, 0x73, 0x6d, 1, 0, 0, 0)),
  },
  { name: 'run-tampered', code: 'BUNDLE_TAMPERED', prog: 'sledge-loader', args: ['run', 'tampered.sledge'], prepare: async () => flipCodeByte(await fib(), 'tampered.sledge') },
  { name: 'verify-tampered', code: 'BUNDLE_TAMPERED', prog: 'sledgec', args: ['verify', 'tampered.sledge'], prepare: async () => flipCodeByte(await fib(), 'tampered.sledge') },
  {
    name: 'verify-signed-tampered', code: 'BUNDLE_TAMPERED', prog: 'sledgec', args: ['verify', 'signed-tampered.sledge', '--key', 'me.pub'],
    prepare: async () => flipCodeByte(await signedFib(), 'signed-tampered.sledge'),
  },
  { name: 'verify-other-key', code: 'BUNDLE_UNTRUSTED', prog: 'sledgec', args: ['verify', 'fib-signed.sledge', '--key', 'other.pub'], prepare: signedFib },
  { name: 'run-other-key', code: 'BUNDLE_UNTRUSTED', prog: 'sledge-loader', args: ['run', '--key', 'other.pub', 'fib-signed.sledge', '10'], prepare: signedFib },
  { name: 'run-unsigned-with-key', code: 'BUNDLE_UNSIGNED', prog: 'sledge-loader', args: ['run', '--key', 'me.pub', 'fib.sledge', '10'], prepare: async () => Promise.all([fib(), keys()]) },
  {
    name: 'run-manifest-version', code: 'MANIFEST_VERSION', prog: 'sledge-loader', args: ['run', 'format99.sledge', '10'],
    prepare: async () => withManifest(await fib(), 'format99.sledge', (m) => { m.format = 99; }),
  },
  {
    name: 'verify-manifest-version', code: 'MANIFEST_VERSION', prog: 'sledgec', args: ['verify', 'format99.sledge'],
    prepare: async () => withManifest(await fib(), 'format99.sledge', (m) => { m.format = 99; }),
  },
  {
    name: 'run-unknown-feature', code: 'BUNDLE_FEATURE', prog: 'sledge-loader', args: ['run', 'feature.sledge'],
    prepare: async () => withManifest(await fib(), 'feature.sledge', (m) => { m.features.push('teleportation'); }),
  },
  { name: 'run-unsafe', code: 'BUNDLE_UNSAFE', prog: 'sledge-loader', args: ['run', 'fib-none.sledge', '10'], prepare: () => bundle('fibonacci', 'fib-none.sledge', { bounds: 'none' }) },
  { name: 'run-missing', code: 'BUNDLE_UNREADABLE', prog: 'sledge-loader', args: ['run', 'missing.sledge'] },
];

describe('bad inputs: a coded error, a non-zero exit, no stack trace', () => {
  for (const b of BAD) {
    it(`${b.name} → ${b.code}`, async () => {
      await b.prepare?.();
      const r = b.prog === 'sledgec' ? await sledgec(b.args) : await loader(b.args);
      expect(r.code, r.stderr).not.toBe(0);
      expect(r.stderr.startsWith(`${b.prog}: error[${b.code}]: `), r.stderr).toBe(true);
      expect(r.stdout).toBe('');
      expectClean(r);
      await golden(b.name, r, `${b.prog} ${b.args.join(' ')}`);
    });
  }

  it('every bad input has a golden file and no stale ones are left', () => {
    if (UPDATE) return;
    const names = new Set([...BAD.map((b) => `${b.name}.txt`), 'inspect-hello.txt']);
    const files = existsSync(GOLDEN) ? readdirSync(GOLDEN) : [];
    expect(files.filter((f) => !names.has(f))).toEqual([]);
  });
});

describe('sledgec inspect', () => {
  const hello = once(async () => {
    const r = await sledgec(['build', fixturePath('hello'), '-o', 'hello.sledge', '-q']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    return 'hello.sledge';
  });

  it('prints the manifest of a fixed fixture (golden)', async () => {
    const r = await sledgec(['inspect', await hello()]);
    expect(r.code, r.stderr).toBe(0);
    await golden('inspect-hello', r, 'sledgec inspect hello.sledge');
  });

  it('--json prints the manifest itself', async () => {
    const r = await sledgec(['inspect', '--json', await hello()]);
    expect(r.code, r.stderr).toBe(0);
    const m = JSON.parse(r.stdout) as Manifest;
    expect(m).toMatchObject({ format: 1, bounds: 'guard', unsafe: false, entry: '_start', source: { name: 'hello.c', kind: 'c' } });
    expect(m.moduleSha256).toMatch(/^[0-9a-f]{64}$/);
  });
});
