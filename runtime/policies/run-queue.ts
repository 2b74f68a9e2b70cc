// A run queue policy: the order in which queued and preempted tasks run. The global queue (main
// thread) and each worker's local run queue use the same policies.

export interface Queued {
  deadline: number;
  /** Arrival sequence: FIFO order, and the tie-breaker for equal deadlines. */
  seq: number;
}

export interface RunQueue<T extends Queued> {
  readonly length: number;
  push(t: T): void;
  pop(): T | undefined;
  peek(): T | undefined;
  /** Removes every task (used when a worker dies or the server shuts down). */
  drain(): T[];
}
