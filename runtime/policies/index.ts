// Picks a run queue by policy name.

import { EdfQueue } from './edf.ts';
import { FifoQueue } from './fifo.ts';
import type { Queued, RunQueue } from './run-queue.ts';

export type Policy = 'fifo' | 'edf';
export const POLICIES: readonly Policy[] = ['fifo', 'edf'];

export function makeQueue<T extends Queued>(policy: Policy): RunQueue<T> {
  return policy === 'edf' ? new EdfQueue<T>() : new FifoQueue<T>();
}
