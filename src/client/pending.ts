// Requests sent and not yet answered: each settles exactly once, by its response, its deadline,
// its AbortSignal or the loss of the connection, and leaves no timer or listener behind.
import { ErrorCode } from '../protocol/errors.js'
import { IpcError } from './errors.js'

interface Entry {
  resolve (value: unknown): void
  reject (err: unknown): void
  onProgress?: (data: unknown) => void
  timer: ReturnType<typeof setTimeout>
  signal?: AbortSignal
  onAbort?: () => void
}

export class PendingCalls {
  private readonly entries = new Map<number, Entry>()

  /** Registers request `id`; the promise settles with its result or an IpcError. */
  add (id: number, timeoutMs: number, signal?: AbortSignal, onProgress?: (data: unknown) => void): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.reject(id, new IpcError(ErrorCode.DEADLINE_EXCEEDED, `Call timed out after ${timeoutMs} ms`)), timeoutMs)
      const entry: Entry = { resolve, reject, onProgress, timer }
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
