// The task and result batches that cross between the main thread and workers (runtime/task-codec.ts):
// every field survives the round trip, argv/environ arrive as the C strings WASI hands the guest.

import { describe, expect, it } from 'vitest';
import { decodeResults, decodeTasks, encodeResults, encodeTasks, type FinishedTask, type QueuedTask } from '../runtime/task-codec.ts';
import { cStrings } from '../runtime/wasi/c-strings.ts';

const task = (id: number, argv: string[], env: string[], stdin: Uint8Array): QueuedTask => ({
  id, moduleId: id % 3, arrival: 1000.125 + id, deadline: 1010.5 + id, timeoutAt: 1100.25 + id, argv, env, stdin,
});

describe('task batches', () => {
  it('round-trip ids, times, argv and environ as C strings (UTF-8) and stdin bytes', () => {
    const big = new Uint8Array(1 << 20).map((_, i) => (i * 7) & 0xff);
    const tasks = [
      task(1, ['fib', '30'], ['REQUEST_METHOD=GET', 'HTTP_X=ünïcødé ✓'], new Uint8Array(0)),
      task(2, ['echo'], [], big),
      task(3, [], ['A='], Uint8Array.of(0, 1, 2)),
    ];
    const out = decodeTasks(encodeTasks(tasks));
    expect(out).toHaveLength(3);
    out.forEach((t, i) => {
      const q = tasks[i]!;
      expect({ id: t.id, moduleId: t.moduleId, arrival: t.arrival, deadline: t.deadline, timeoutAt: t.timeoutAt })
        .toEqual({ id: q.id, moduleId: q.moduleId, arrival: q.arrival, deadline: q.deadline, timeoutAt: q.timeoutAt });
      expect(t.argv.count).toBe(q.argv.length);
      expect([...t.argv.bytes]).toEqual([...cStrings(q.argv).bytes]);
      expect(t.env.count).toBe(q.env.length);
      expect([...t.env.bytes]).toEqual([...cStrings(q.env).bytes]);
      expect(Buffer.from(t.stdin).equals(Buffer.from(q.stdin))).toBe(true);
    });
    expect(new TextDecoder().decode(out[0]!.env.bytes)).toBe('REQUEST_METHOD=GET\0HTTP_X=ünïcødé ✓\0');
  });

  it('an empty batch is an empty batch', () => {
    expect(decodeTasks(encodeTasks([]))).toEqual([]);
  });
});

describe('result batches', () => {
  it('round-trip status, times, output chunks and traps', () => {
    const enc = new TextEncoder();
    const results: FinishedTask[] = [
      { id: 7, exitCode: 0, preemptions: 2, times: { queuedUs: 1, runningUs: 20, preemptedUs: 3, totalUs: 24 }, stdout: [enc.encode('832'), enc.encode('040\n')], stderr: [] },
      { id: 8, exitCode: 134, preemptions: 0, times: { queuedUs: 5, runningUs: 6, preemptedUs: 0, totalUs: 11 }, stdout: [], stderr: [enc.encode('oops\n')], trap: { kind: 'out-of-bounds', reason: 'out of bounds memory access: 4 bytes at address 0x10000' } },
      { id: 9, exitCode: -1, preemptions: 0, times: { queuedUs: 0, runningUs: 0, preemptedUs: 0, totalUs: 0 }, stdout: [], stderr: [] },
    ];
    const out = decodeResults(encodeResults(results));
    const dec = (b: Uint8Array) => new TextDecoder().decode(b);
    expect(out.map((r) => [r.id, r.exitCode, r.preemptions, r.times, dec(r.stdout), dec(r.stderr), r.trap])).toEqual([
      [7, 0, 2, results[0]!.times, '832040\n', '', undefined],
      [8, 134, 0, results[1]!.times, '', 'oops\n', results[1]!.trap],
      [9, -1, 0, results[2]!.times, '', '', undefined],
    ]);
  });
});
