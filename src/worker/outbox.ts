// The replies and acks of one event-loop turn, sent together (PROTOCOL.md section 9): per reply list one
// MULTI with one RPUSH of all its replies and the PEXPIRE, and one XACK of every answered entry. Each
// command, and each MULTI, still touches one key (Redis Cluster). Per request this was a MULTI/RPUSH/
// PEXPIRE/EXEC plus an XACK, each its own socket write: most of a busy worker's CPU went to those writes.
import type { Redis } from 'ioredis'
import { REPLY_TTL_MS, WORKER_GROUP } from '../broker/keys.js'

// A bound on the arguments of one RPUSH/XACK (a handler may send progress in a tight loop).
const MAX_BATCH = 1000

interface Batch {
  items: string[]
  /** settles when the batch's command(s) answered: every item of it shares the outcome */
  done: Promise<void>
  resolve (): void
  reject (err: unknown): void
}

export class Outbox {
  /** open batches of replies by list key, then of acks (key `null`), in the order they began */
  private open = new Map<string | null, Batch>()
  private full: Array<[string | null, Batch]> = []
  private scheduled = false

  constructor (private readonly redis: Redis, private readonly stream: string) {}

  /** RPUSH + PEXPIRE of `text` on `key`; replies to one key keep their order. */
  reply (key: string, text: string): Promise<void> {
    return this.add(key, text)
  }

  /** XACK of a request; call once its reply is in (`reply` resolved), so none is lost. */
  ack (entryId: string): Promise<void> {
    return this.add(null, entryId)
  }

  private add (key: string | null, item: string): Promise<void> {
    let batch = this.open.get(key)
    if (batch === undefined) {
      batch = newBatch()
      this.open.set(key, batch)
    }
    batch.items.push(item)
    if (batch.items.length >= MAX_BATCH) {
      this.open.delete(key)
      this.full.push([key, batch])
    }
    if (!this.scheduled) {
      this.scheduled = true
      // after this turn's I/O callbacks and microtasks: every job that finished in it joins the batch
      setImmediate(this.flush)
    }
    return batch.done
  }

  private readonly flush = (): void => {
    this.scheduled = false
    const batches = [...this.full, ...this.open]
    this.full = []
    this.open = new Map()
    for (const [key, batch] of batches) {
      const sent = key === null
        ? this.redis.xack(this.stream, WORKER_GROUP, ...batch.items).then(() => undefined)
        : this.redis.multi().rpush(key, ...batch.items).pexpire(key, REPLY_TTL_MS).exec().then(checkExec)
      sent.then(batch.resolve, batch.reject)
    }
  }
}

function newBatch (): Batch {
  let resolve!: () => void
  let reject!: (err: unknown) => void
  const done = new Promise<void>((res, rej) => { resolve = res; reject = rej })
  // a batch's failure is reported by whoever awaits it; never an unhandled rejection
  done.catch(() => undefined)
  return { items: [], done, resolve, reject }
}

function checkExec (results: Array<[Error | null, unknown]> | null): void {
  const failed = results?.find(([err]) => err !== null)
  if (results === null || failed !== undefined) throw failed?.[0] ?? new Error('reply transaction aborted')
}
