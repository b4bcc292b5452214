// Resumable calls (docs/protocol.md §3): a call with an idempotencyKey runs once per user and key
// while its answer is kept; a re-send (after a reconnect, on any node) gets the kept answer, or waits
// for the run still under way, instead of running the method again.
import { createHash, randomUUID } from 'node:crypto'
import type { ResultStore } from '../broker/types.js'
import { ErrorCode, type ErrorObject, RpcError } from '../protocol/errors.js'

/** how often a waiting re-send looks at its record even without news (a lost notification, a dead runner) */
const RECHECK_MS = 1000
/** a claim outlives its call's deadline by this much, so a slow answer still finds it */
const LEASE_MARGIN_MS = 1000

/**
 * Errors that say the call did not run, or not to its end, through no fault of its own: they are not
 * kept, so a re-send runs it (again).
 */
const TRANSIENT: ReadonlySet<number> = new Set([ErrorCode.UNAVAILABLE, ErrorCode.DEADLINE_EXCEEDED, ErrorCode.RATE_LIMITED])

export interface KeyedCall {
  /** the user the key belongs to */
  userId: string
  key: string
  method: string
  /** by name, after validation */
  params: unknown
  /** epoch ms: how long a re-send waits for a run under way */
  deadline: number
}

export class Idempotency {
  constructor (private readonly store: ResultStore, private readonly ttlMs: number) {}

  /** The call's answer: kept, awaited from another run, or from `run` (once, whoever asks). */
  async run (call: KeyedCall, run: () => Promise<unknown> | unknown): Promise<unknown> {
    const scoped = `${encodeURIComponent(call.userId)}:${call.key}`
    const fingerprint = createHash('sha256').update(call.method).update('\n').update(JSON.stringify(call.params ?? {})).digest('base64url')
    const token = randomUUID()
    const lease = Math.max(1, call.deadline - Date.now()) + LEASE_MARGIN_MS
    let waiting = false
    for (;;) {
      const watch = waiting ? this.store.watch(scoped, Math.min(RECHECK_MS, Math.max(1, call.deadline - Date.now()))) : null
      const claim = await this.store.claim(scoped, fingerprint, token, lease, waiting).catch(err => {
        watch?.cancel()
        throw unavailable(err)
      })
      switch (claim.state) {
        case 'conflict':
          watch?.cancel()
          throw new RpcError(ErrorCode.CONFLICT, `Conflict: idempotencyKey ${JSON.stringify(call.key)} was used for another call (another method or other params)`, { idempotencyKey: call.key })
        case 'done':
          watch?.cancel()
          return answerOf(claim.answer)
        case 'claimed':
          watch?.cancel()
          return await this.runClaimed(scoped, token, run)
      }
      if (Date.now() >= call.deadline) {
        watch?.cancel()
        throw new RpcError(ErrorCode.DEADLINE_EXCEEDED, 'Deadline exceeded: the run of this idempotencyKey under way did not answer in time')
      }
      if (watch !== null) await watch.changed
      waiting = true
    }
  }

  private async runClaimed (scoped: string, token: string, run: () => Promise<unknown> | unknown): Promise<unknown> {
    let result: unknown
    try {
      result = await run()
    } catch (err) {
      const known = RpcError.of(err)
      // a handler that threw something unexpected did run: its -32603 is kept like any answer
      if (known !== null && TRANSIENT.has(known.code)) await this.store.release(scoped, token).catch(() => undefined)
      else await this.keep(scoped, token, { error: known?.toJSON() ?? { code: ErrorCode.INTERNAL_ERROR, message: 'Internal error' } })
      throw err
    }
    await this.keep(scoped, token, { result: result ?? null })
    return result
  }

  // A failure to keep the answer does not fail the call: this caller gets it; a re-send then runs again
  // once the claim's lease is over (at least once, as without a key).
  private async keep (scoped: string, token: string, answer: { result: unknown } | { error: ErrorObject }): Promise<void> {
    await this.store.complete(scoped, token, JSON.stringify(answer), this.ttlMs).catch(() => undefined)
  }
}

function answerOf (text: string): unknown {
  const answer = JSON.parse(text) as { result?: unknown, error?: ErrorObject }
  if (answer.error !== undefined) throw new RpcError(answer.error.code, answer.error.message, answer.error.data)
  return answer.result ?? null
}

const unavailable = (err: unknown): RpcError =>
  RpcError.of(err) ?? new RpcError(ErrorCode.UNAVAILABLE, `Unavailable: the answers of idempotent calls cannot be reached (${(err as Error).message})`)
