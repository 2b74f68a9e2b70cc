// FIFO: first come, first served; a preempted task goes to the back (round robin).

import type { Queued, RunQueue } from './run-queue.ts';

export class FifoQueue<T extends Queued> implements RunQueue<T> {
  private items: (T | undefined)[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(t: T): void {
    this.items.push(t);
  }

  pop(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const t = this.items[this.head];
    this.items[this.head++] = undefined;
    // Compact now and then so the array does not grow without bound.
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return t;
  }

  peek(): T | undefined {
    return this.items[this.head];
  }

  drain(): T[] {
    const out = this.items.slice(this.head) as T[];
    this.items = [];
    this.head = 0;
    return out;
  }
}
