/**
 * What is in flight (the gateway's remote calls, a worker's jobs): each item takes a free slot of an
 * array and gives it back when it ends, so nothing is keyed by a string on the request path. A table
 * keyed by id costs more: a Map's replaced hash tables keep their entries through young GCs, and a
 * plain object's keys are interned strings. A remote call's id carries its slot, so its reply finds
 * it without a key.
 */
export interface Slotted {
  /** where it is while in flight */
  slot: number
}

export class Slots<T extends Slotted> {
  private readonly items: Array<T | undefined> = []
  private readonly free: number[] = []
  private count = 0

  get size (): number {
    return this.count
  }

  add (item: T): void {
    const slot = this.free.pop() ?? this.items.length
    this.items[slot] = item
    item.slot = slot
    this.count++
  }

  /** false when it was not in flight (ended already) */
  remove (item: T): boolean {
    if (this.items[item.slot] !== item) return false
    this.items[item.slot] = undefined
    this.free.push(item.slot)
    this.count--
    return true
  }

  at (slot: number): T | undefined {
    return this.items[slot]
  }

  all (): T[] {
    return this.items.filter((item): item is T => item !== undefined)
  }
}
