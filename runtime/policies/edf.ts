// EDF: earliest absolute deadline first (a binary min-heap), ties in arrival order.

import type { Queued, RunQueue } from './run-queue.ts';

export class EdfQueue<T extends Queued> implements RunQueue<T> {
  private heap: T[] = [];

  get length(): number {
    return this.heap.length;
  }

  private static before(a: Queued, b: Queued): boolean {
    return a.deadline < b.deadline || (a.deadline === b.deadline && a.seq < b.seq);
  }

  push(t: T): void {
    const h = this.heap;
    h.push(t);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!EdfQueue.before(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  pop(): T | undefined {
    const h = this.heap;
    if (h.length === 0) return undefined;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && EdfQueue.before(h[l]!, h[m]!)) m = l;
        if (r < h.length && EdfQueue.before(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }

  peek(): T | undefined {
    return this.heap[0];
  }

  drain(): T[] {
    const out = this.heap;
    this.heap = [];
    return out;
  }
}
