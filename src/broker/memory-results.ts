// Answers of calls with an idempotency key for one node (docs/protocol.md §3): a map whose records
// expire by timer, like the Redis keys of redis-results.ts.
import { ResultWatchers } from './result-watchers.js'
import type { Claim, ResultStore, Watch } from './types.js'

interface Entry {
  fingerprint: string
  token: string
  answer?: string
  timer: NodeJS.Timeout
}

export class MemoryResults implements ResultStore {
  private readonly entries = new Map<string, Entry>()
  private readonly watchers = new ResultWatchers()

  async claim (key: string, fingerprint: string, token: string, leaseMs: number): Promise<Claim> {
    const e = this.entries.get(key)
    if (e === undefined) {
      this.entries.set(key, { fingerprint, token, timer: this.expire(key, leaseMs) })
      return { state: 'claimed' }
    }
    if (e.fingerprint !== fingerprint) return { state: 'conflict' }
    return e.answer === undefined ? { state: 'running' } : { state: 'done', answer: e.answer }
  }

  async complete (key: string, token: string, answer: string, ttlMs: number): Promise<void> {
    const e = this.entries.get(key)
    if (e === undefined || e.token !== token) return
    clearTimeout(e.timer)
    e.answer = answer
    e.timer = this.expire(key, ttlMs)
    this.watchers.wake(key)
  }

  async release (key: string, token: string): Promise<void> {
    const e = this.entries.get(key)
    if (e === undefined || e.token !== token) return
    clearTimeout(e.timer)
    this.entries.delete(key)
    this.watchers.wake(key)
  }

  watch (key: string, ms: number): Watch {
    return this.watchers.watch(key, ms)
  }

  /** drops every record and its timer (the broker closes) */
  clear (): void {
    for (const e of this.entries.values()) clearTimeout(e.timer)
    this.entries.clear()
  }

  private expire (key: string, ms: number): NodeJS.Timeout {
    const timer = setTimeout(() => {
      this.entries.delete(key)
      this.watchers.wake(key)
    }, ms)
    timer.unref()
    return timer
  }
}
