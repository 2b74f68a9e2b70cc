// Background compilation for `serve`: the listener opens once every bundle is checked and the
// workers are up, and the module contexts compile one at a time, in spec order — except that a
// module a request is waiting for goes next.
// So the first request is answered once *its* bundle is compiled, not every bundle (start-up:
// DESIGN §5; each request still runs optimized code).

import { compileModule, type ModuleContext, type PreparedModule } from './module-context.ts';

export interface CompileEvents {
  ready(id: number, ctx: ModuleContext): void;
  failed(id: number, e: Error): void;
}

interface Entry {
  prepared: PreparedModule;
  state: 'waiting' | 'compiling' | 'ready' | 'failed';
  done: Promise<void>;
  settle: { resolve(): void; reject(e: Error): void };
}

export class CompileQueue {
  private readonly entries: Entry[];
  private readonly on: CompileEvents;
  private readonly order: number[];
  private running = false;
  private started = false;

  constructor(prepared: PreparedModule[], on: CompileEvents) {
    this.on = on;
    this.order = prepared.map((_, i) => i);
    this.entries = prepared.map((p) => {
      let settle!: Entry['settle'];
      const done = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
      done.catch(() => {}); // a failure is reported to the requests that wait, not as unhandled
      return { prepared: p, state: 'waiting', done, settle };
    });
  }

  /** Compiles every module, in order; resolves when every one is settled (ready or failed). */
  start(): Promise<void> {
    this.started = true;
    this.pump();
    return Promise.allSettled(this.entries.map((e) => e.done)).then(() => {});
  }

  /** undefined when module `id` is ready; otherwise a promise of it (and it is compiled next). */
  ready(id: number): Promise<void> | undefined {
    const e = this.entries[id]!;
    if (e.state === 'ready') return undefined;
    if (e.state === 'waiting') {
      this.order.splice(this.order.indexOf(id), 1);
      this.order.unshift(id);
    }
    this.pump();
    return e.done;
  }

  get pending(): number {
    return this.entries.filter((e) => e.state === 'waiting' || e.state === 'compiling').length;
  }

  private pump(): void {
    if (this.running) return;
    const id = this.order.shift();
    if (id === undefined) return;
    const e = this.entries[id]!;
    this.running = true;
    e.state = 'compiling';
    compileModule(e.prepared).then(
      (ctx) => {
        e.state = 'ready';
        this.on.ready(id, ctx);
        e.settle.resolve();
      },
      (err: Error) => {
        e.state = 'failed';
        this.on.failed(id, err);
        e.settle.reject(err);
      },
    ).finally(() => {
      this.running = false;
      if (this.started) this.pump();
    });
  }
}
