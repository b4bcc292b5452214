// The listeners of idempotency records a node waits on: woken by the store that saw the answer
// stored (memory: at once; Redis: by its notification), or by their own timer at the latest.
import { addTo, removeFrom } from '../multimap.js'
import type { Watch } from './types.js'

export class ResultWatchers {
  private readonly byKey = new Map<string, Set<() => void>>()

  watch (key: string, ms: number): Watch {
    let wake!: () => void
    const changed = new Promise<void>(resolve => { wake = resolve })
    const done = (): void => {
      clearTimeout(timer)
      removeFrom(this.byKey, key, done)
      wake()
    }
    const timer = setTimeout(done, ms)
    addTo(this.byKey, key, done)
    return { changed, cancel: done }
  }

  /** wakes everything waiting on `key` */
  wake (key: string): void {
    const set = this.byKey.get(key)
    if (set !== undefined) for (const done of [...set]) done()
  }

  get size (): number {
    return this.byKey.size
  }
}
