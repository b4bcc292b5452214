// Requests sent and not yet answered: each settles exactly once, by its response, its deadline,
// its AbortSignal or the loss of the connection, and leaves no timer or listener behind. A call with
// an idempotency key outlives the loss of its connection: it is sent again on the next one, and the
// gateway answers it from the first run (docs/protocol.md §3).
import { ErrorCode } from '../protocol/errors.js'
import { IpcError } from './errors.js'

interface Entry {
  resolve (value: unknown): void
  reject (err: unknown): void
  onProgress?: (data: unknown) => void
  timer: ReturnType<typeof setTimeout>
  signal?: AbortSignal
  onAbort?: () => void
  /** the request's text, kept for calls with an idempotency key: sent again after a reconnect */
  resend?: string
}

export class PendingCalls {
  private readonly entries = new Map<number, Entry>()

  /** Registers request `id`; the promise settles with its result or an IpcError. */
  add (id: number, timeoutMs: number, signal?: AbortSignal, onProgress?: (data: unknown) => void, resend?: string): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.reject(id, new IpcError(ErrorCode.DEADLINE_EXCEEDED, `Call timed out after ${timeoutMs} ms`)), timeoutMs)
      const entry: Entry = { resolve, reject, onProgress, timer, resend }
      if (signal !== undefined) {
        entry.signal = signal
        entry.onAbort = () => this.reject(id, signal.reason)
        signal.addEventListener('abort', entry.onAbort, { once: true })
      }
      this.entries.set(id, entry)
    })
  }

  resolve (id: number, result: unknown): void {
    this.take(id)?.resolve(result)
  }

  reject (id: number, error: unknown): void {
    this.take(id)?.reject(error)
  }

  progress (id: number, data: unknown): void {
    this.entries.get(id)?.onProgress?.(data)
  }

  failAll (error: IpcError): void {
    for (const id of [...this.entries.keys()]) this.reject(id, error)
  }

  /** The connection is lost: calls without an idempotency key fail with `error`, the others wait to be sent again. */
  lose (error: IpcError): void {
    for (const [id, entry] of [...this.entries]) if (entry.resend === undefined) this.reject(id, error)
  }

  /** the text of every call waiting to be sent again (after lose()), oldest first */
  resendable (): string[] {
    const out: string[] = []
    for (const entry of this.entries.values()) if (entry.resend !== undefined) out.push(entry.resend)
    return out
  }

  /** Removes an entry and its timer and listener; undefined for ids no longer waited for (late answers). */
  private take (id: number): Entry | undefined {
    const entry = this.entries.get(id)
    if (entry === undefined) return undefined
    this.entries.delete(id)
    clearTimeout(entry.timer)
    if (entry.onAbort !== undefined) entry.signal!.removeEventListener('abort', entry.onAbort)
    return entry
  }
}
