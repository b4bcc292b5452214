/**
 * What is in flight (the gateway's remote calls) by string key: a
 * null-prototype object rather than a Map. A Map replaces its table as entries come and go, and V8
 * keeps a pointer from the replaced table to its successor, entries included. Once a long-lived Map's
 * table has grown old, each next table, and every entry in it, is kept through young-generation GCs
 * by the dead one before it, until a full GC (side test, 6 calls per ms for 8 s, --trace-gc-nvp: a Map
 * of pending calls promoted 16.9 MB, this 6.7, an idle process 5.4). An object's hash table leaves no
 * such trail. Its price: an object's keys are interned, so each new key string costs a lookup in
 * V8's string table (~0.5 µs, side test; the worker's jobs therefore use slots, src/worker/jobs.ts).
 * Keys must never look like array indices ("700"): V8 keeps those as elements, and on a fresh table
 * backs key 700 with an array of 700+ slots (bench/README.md item 26). Call ids (`node:boot.seq`)
 * never do.
 */
export class InFlight<V> {
  private table: Record<string, V> = Object.create(null)
  private count = 0

  get size (): number {
    return this.count
  }

  get (key: string): V | undefined {
    return this.table[key]
  }

  has (key: string): boolean {
    return key in this.table
  }

  set (key: string, value: V): void {
    if (!(key in this.table)) this.count++
    this.table[key] = value
  }

  delete (key: string): boolean {
    if (!(key in this.table)) return false
    delete this.table[key]
    this.count--
    return true
  }

  keys (): string[] {
    return Object.keys(this.table)
  }

  values (): V[] {
    return Object.values(this.table)
  }

  entries (): Array<[string, V]> {
    return Object.entries(this.table)
  }
}
