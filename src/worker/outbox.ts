// The replies and acks of one event-loop turn, sent together (docs/protocol.md §9).
//
// On one Redis server: one MULTI with, per reply list, an RPUSH of all its replies and the PEXPIRE,
// then one XACK of every answered entry, in one write. The commands go out together through
// redis-wire.ts rather than `redis.multi()`, whose Pipeline objects V8 keeps alive through
// young-generation GCs; going around the client's auto-pipeline keeps the transaction in one piece.
//
// The XACK rides in the same transaction as the replies: if the MULTI is refused (out of memory, the
// connection lost) none of it happens and the request stays pending for another delivery; an RPUSH
// failing inside EXEC (the reply key is not a list) loses that reply and is reported to whoever sent it.
//
// On a Redis Cluster a transaction holds the keys of one slot only: each reply list gets a MULTI of
// its own (`multi()`, routed by its key), and the requests it answers are acked once it succeeded.
import type { Redis } from 'ioredis'
import { REPLY_TTL_MS, WORKER_GROUP } from '../broker/keys.js'
import { type Command, command, sendTogether } from '../broker/redis-wire.js'
import type { WorkerRedis } from './redis.js'

// A bound on the arguments of one RPUSH/XACK (a handler may send progress in a tight loop).
const MAX_ARGS = 1000

/** One list's replies of this turn, and the requests they answer: every item shares the outcome of its commands. */
interface Part {
  items: string[]
  /** entry ids of the requests whose final reply is among `items` */
  acks: string[]
  done: Promise<void>
  resolve (): void
  reject (err: unknown): void
}

export class Outbox {
  /** this turn's replies by list key, in the order they came */
  private replies = new Map<string, Part>()
  /** this turn's acks of requests answered by nobody */
  private acks: string[] = []
  private scheduled = false

  constructor (private readonly redis: WorkerRedis, private readonly stream: string, private readonly ackFailed: (err: unknown, count: number) => void) {}

  /** A progress frame: RPUSH + PEXPIRE of `text` on `key`; replies to one key keep their order. */
  reply (key: string, text: string): Promise<void> {
    const part = this.part(key)
    part.items.push(text)
    this.schedule()
    return part.done
  }

  /**
   * The final reply, and the XACK of its request (in the same transaction on one server, after it on
   * a Cluster). Settles with the reply; a failed XACK is reported to `ackFailed` (the request is then
   * delivered again, never lost).
   */
  answer (key: string, text: string, entryId: string): Promise<void> {
    this.part(key).acks.push(entryId)
    return this.reply(key, text)
  }

  /** XACK of a request answered by nobody (past its deadline, unreadable without a reply key). */
  ack (entryId: string): void {
    this.acks.push(entryId)
    this.schedule()
  }

  private part (key: string): Part {
    let p = this.replies.get(key)
    if (p === undefined) this.replies.set(key, p = part())
    return p
  }

  private schedule (): void {
    if (this.scheduled) return
    this.scheduled = true
    // after this turn's I/O callbacks and microtasks: every job that finished in it joins the batch
    setImmediate(this.flush)
  }

  private readonly flush = (): void => {
    this.scheduled = false
    const replies = this.replies
    const acks = this.acks
    this.replies = new Map()
    this.acks = []
    if (this.redis.isCluster) this.sendEach(replies, acks)
    else this.sendOne(this.redis as Redis, replies, acks)
  }

  private sendOne (redis: Redis, replies: Map<string, Part>, acks: string[]): void {
    const commands = [command(redis, 'multi', [])]
    // each part with the index of its first and last command in the EXEC results
    const parts: Array<[Part, number, number]> = []
    for (const [key, p] of replies) {
      const first = commands.length - 1
      for (let i = 0; i < p.items.length; i += MAX_ARGS) commands.push(command(redis, 'rpush', [key, ...p.items.slice(i, i + MAX_ARGS)]))
      commands.push(command(redis, 'pexpire', [key, REPLY_TTL_MS]))
      parts.push([p, first, commands.length - 2])
      for (const id of p.acks) acks.push(id)
    }
    const firstAck = commands.length - 1
    for (let i = 0; i < acks.length; i += MAX_ARGS) commands.push(command(redis, 'xack', [this.stream, WORKER_GROUP, ...acks.slice(i, i + MAX_ARGS)]))
    const lastAck = commands.length - 2
    const exec = command(redis, 'exec', [])
    commands.push(exec)
    sendTogether(redis, commands)
    // A command refused while queued (out of memory) makes the EXEC fail too: that failure is the one said.
    for (let i = 0; i < commands.length - 1; i++) commands[i].promise.catch(() => undefined)
    exec.promise.then((results: unknown[] | null) => {
      const failure = (first: number, last: number): unknown => results === null ? new Error('reply transaction aborted') : results.slice(first, last + 1).find(r => r instanceof Error)
      for (const [p, first, last] of parts) {
        const err = failure(first, last)
        if (err === undefined) p.resolve()
        else p.reject(err)
      }
      // Nobody waits for an XACK: a failed one is said once for the batch.
      const err = acks.length === 0 ? undefined : failure(firstAck, lastAck)
      if (err !== undefined) this.ackFailed(err, acks.length)
    }, err => {
      for (const [p] of parts) p.reject(err)
      if (acks.length > 0) this.ackFailed(err, acks.length)
    })
  }

  private sendEach (replies: Map<string, Part>, acks: string[]): void {
    for (const [key, p] of replies) {
      const tx = this.redis.multi()
      for (let i = 0; i < p.items.length; i += MAX_ARGS) tx.rpush(key, ...p.items.slice(i, i + MAX_ARGS))
      tx.pexpire(key, REPLY_TTL_MS)
      tx.exec().then(results => {
        const err = results === null ? new Error('reply transaction aborted') : results.find(([e]) => e !== null)?.[0]
        if (err !== undefined) {
          // not acked: its requests are delivered again
          p.reject(err)
          return
        }
        p.resolve()
        this.xack(p.acks)
      }, err => p.reject(err))
    }
    this.xack(acks)
  }

  private xack (ids: string[]): void {
    for (let i = 0; i < ids.length; i += MAX_ARGS) {
      const batch = ids.slice(i, i + MAX_ARGS)
      this.redis.xack(this.stream, WORKER_GROUP, ...batch).catch(err => this.ackFailed(err, batch.length))
    }
  }
}

function part (): Part {
  let resolve!: () => void
  let reject!: (err: unknown) => void
  const done = new Promise<void>((res, rej) => { resolve = res; reject = rej })
  // a part's failure is reported by whoever awaits it, or ackFailed; never an unhandled rejection
  done.catch(() => undefined)
  return { items: [], acks: [], done, resolve, reject }
}
