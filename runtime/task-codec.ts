// Batches of tasks (main → worker) and of results (worker → main) as one flat buffer each, moved
// with postMessage's transfer list: no structured clone of a dozen strings and objects per request
// (that cost ~2 µs per task on each side, plus the garbage). argv and environ go as C strings,
// output as raw bytes; the receiver's views point into the batch buffer, nothing is copied again.
//
// Layout, little-endian. Tasks: u32 count, then per task: u32 id, u32 moduleId, f64 arrival,
// f64 deadline, f64 timeoutAt, u32 argc, u32 argvBytes, u32 envc, u32 envBytes, u32 stdinBytes,
// then the argv, environ and stdin bytes. Results: u32 count, then per result: u32 id,
// i32 exitCode, u32 preemptions, u32 queuedUs, u32 runningUs, u32 preemptedUs, u32 totalUs,
// u32 stdoutBytes, u32 stderrBytes, u32 trapKindBytes, u32 trapReasonBytes (0 and 0: no trap),
// then those bytes.

import type { TaskMessage, TaskResult } from './protocol.ts';
import { cStringsBound, encodeCStrings } from './wasi/c-strings.ts';

/** A request as the main thread queues it: argv and environ still as strings. */
export interface QueuedTask {
  id: number;
  moduleId: number;
  arrival: number;
  deadline: number;
  timeoutAt: number;
  argv: string[];
  env: string[];
  stdin: Uint8Array;
}

const TASK_HEADER = 4 * 2 + 8 * 3 + 4 * 5;
const RESULT_HEADER = 4 * 11;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeTasks(tasks: readonly QueuedTask[]): ArrayBuffer {
  let bound = 4;
  for (const t of tasks) bound += TASK_HEADER + cStringsBound(t.argv) + cStringsBound(t.env) + t.stdin.length;
  const buf = new ArrayBuffer(bound);
  const dv = new DataView(buf);
  const u8 = new Uint8Array(buf);
  dv.setUint32(0, tasks.length, true);
  let at = 4;
  for (const t of tasks) {
    const h = at;
    at += TASK_HEADER;
    const argvBytes = encodeCStrings(t.argv, u8, at);
    at += argvBytes;
    const envBytes = encodeCStrings(t.env, u8, at);
    at += envBytes;
    u8.set(t.stdin, at);
    at += t.stdin.length;
    dv.setUint32(h, t.id, true);
    dv.setUint32(h + 4, t.moduleId, true);
    dv.setFloat64(h + 8, t.arrival, true);
    dv.setFloat64(h + 16, t.deadline, true);
    dv.setFloat64(h + 24, t.timeoutAt, true);
    dv.setUint32(h + 32, t.argv.length, true);
    dv.setUint32(h + 36, argvBytes, true);
    dv.setUint32(h + 40, t.env.length, true);
    dv.setUint32(h + 44, envBytes, true);
    dv.setUint32(h + 48, t.stdin.length, true);
  }
  return buf;
}

export function decodeTasks(buf: ArrayBuffer): TaskMessage[] {
  const dv = new DataView(buf);
  const tasks: TaskMessage[] = [];
  let at = 4;
  for (let n = dv.getUint32(0, true); n > 0; n--) {
    const argvBytes = dv.getUint32(at + 36, true);
    const envBytes = dv.getUint32(at + 44, true);
    const stdinBytes = dv.getUint32(at + 48, true);
    const body = at + TASK_HEADER;
    tasks.push({
      id: dv.getUint32(at, true),
      moduleId: dv.getUint32(at + 4, true),
      arrival: dv.getFloat64(at + 8, true),
      deadline: dv.getFloat64(at + 16, true),
      timeoutAt: dv.getFloat64(at + 24, true),
      argv: { count: dv.getUint32(at + 32, true), bytes: new Uint8Array(buf, body, argvBytes) },
      env: { count: dv.getUint32(at + 40, true), bytes: new Uint8Array(buf, body + argvBytes, envBytes) },
      stdin: new Uint8Array(buf, body + argvBytes + envBytes, stdinBytes),
    });
    at = body + argvBytes + envBytes + stdinBytes;
  }
  return tasks;
}

/** A finished task on the worker: output still in the chunks the guest wrote. */
export interface FinishedTask extends Omit<TaskResult, 'stdout' | 'stderr'> {
  stdout: Uint8Array[];
  stderr: Uint8Array[];
}

export function encodeResults(results: readonly FinishedTask[]): ArrayBuffer {
  const traps = results.map((r) => (r.trap ? [encoder.encode(r.trap.kind), encoder.encode(r.trap.reason)] : undefined));
  let bound = 4;
  results.forEach((r, i) => {
    bound += RESULT_HEADER + byteLength(r.stdout) + byteLength(r.stderr);
    const t = traps[i];
    if (t) bound += t[0]!.length + t[1]!.length;
  });
  const buf = new ArrayBuffer(bound);
  const dv = new DataView(buf);
  const u8 = new Uint8Array(buf);
  dv.setUint32(0, results.length, true);
  let at = 4;
  results.forEach((r, i) => {
    const t = traps[i];
    const fields = [r.id, r.exitCode, r.preemptions, r.times.queuedUs, r.times.runningUs, r.times.preemptedUs, r.times.totalUs,
      byteLength(r.stdout), byteLength(r.stderr), t ? t[0]!.length : 0, t ? t[1]!.length : 0];
    fields.forEach((v, k) => (k === 1 ? dv.setInt32(at + 4 * k, v, true) : dv.setUint32(at + 4 * k, Math.max(0, v), true)));
    at += RESULT_HEADER;
    for (const chunk of [...r.stdout, ...r.stderr, ...(t ?? [])]) {
      u8.set(chunk, at);
      at += chunk.length;
    }
  });
  return buf;
}

export function decodeResults(buf: ArrayBuffer): TaskResult[] {
  const dv = new DataView(buf);
  const results: TaskResult[] = [];
  let at = 4;
  for (let n = dv.getUint32(0, true); n > 0; n--) {
    const u32 = (k: number) => dv.getUint32(at + 4 * k, true);
    const [stdoutBytes, stderrBytes, kindBytes, reasonBytes] = [u32(7), u32(8), u32(9), u32(10)];
    const r: TaskResult = {
      id: u32(0),
      exitCode: dv.getInt32(at + 4, true),
      preemptions: u32(2),
      times: { queuedUs: u32(3), runningUs: u32(4), preemptedUs: u32(5), totalUs: u32(6) },
      stdout: new Uint8Array(buf, at + RESULT_HEADER, stdoutBytes),
      stderr: new Uint8Array(buf, at + RESULT_HEADER + stdoutBytes, stderrBytes),
    };
    at += RESULT_HEADER + stdoutBytes + stderrBytes;
    if (kindBytes || reasonBytes) {
      r.trap = { kind: decoder.decode(new Uint8Array(buf, at, kindBytes)), reason: decoder.decode(new Uint8Array(buf, at + kindBytes, reasonBytes)) };
      at += kindBytes + reasonBytes;
    }
    results.push(r);
  }
  return results;
}

function byteLength(chunks: readonly Uint8Array[]): number {
  let n = 0;
  for (const c of chunks) n += c.length;
  return n;
}
