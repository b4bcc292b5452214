// The requests a worker is working on. A job takes a free slot of an array and gives it back when it
// ends: nothing is keyed per request. Keyed by entry id, an object interned every new id string (an
// object's keys are interned names: ~0.6 µs per request in a side test) and a Map kept its replaced
// hash tables' entries through young GCs (src/broker/in-flight.ts). Only claiming and stopping look
// jobs up, and they scan.
import type { JobAbort } from './execute.js'

export interface Job {
  readonly entryId: string
  readonly started: number
  abort: JobAbort | null
  done: Promise<void>
  /** index in Jobs' array while it runs */
  slot: number
}

export class Jobs {
  private readonly slots: Array<Job | undefined> = []
  private readonly free: number[] = []
  private count = 0

  get size (): number {
    return this.count
  }

  add (job: Job): void {
    const slot = this.free.pop() ?? this.slots.length
    this.slots[slot] = job
    job.slot = slot
    this.count++
  }

  remove (job: Job): void {
    if (this.slots[job.slot] !== job) return
    this.slots[job.slot] = undefined
    this.free.push(job.slot)
    this.count--
  }

  all (): Job[] {
    return this.slots.filter((j): j is Job => j !== undefined)
  }

  has (entryId: string): boolean {
    return this.slots.some(j => j !== undefined && j.entryId === entryId)
  }
}
