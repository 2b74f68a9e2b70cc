// Requests a worker holds, by id. Not a Map: a Map that takes and drops an entry per request keeps
// replacing its hash table, and V8 links each retired table to its successor (for live
// iterators). Once a retired table is promoted, that chain keeps every later table, and the
// requests they point at, alive through each young-generation GC until the next full one:
// measured under wrk, ~25% of the main thread's young allocations survived (10+ ms scavenges,
// -25% req/s). A plain object in dictionary mode leaves no such chain (~1% survive).

export class PendingTable<T> {
  private entries: Record<number, T> = Object.create(null) as Record<number, T>;
  private count = 0;

  get size(): number {
    return this.count;
  }

  get(id: number): T | undefined {
    return this.entries[id];
  }

  set(id: number, value: T): void {
    if (!(id in this.entries)) this.count++;
    this.entries[id] = value;
  }

  delete(id: number): boolean {
    if (!(id in this.entries)) return false;
    delete this.entries[id];
    this.count--;
    return true;
  }

  values(): T[] {
    return Object.values(this.entries);
  }

  clear(): void {
    this.entries = Object.create(null) as Record<number, T>;
    this.count = 0;
  }
}
