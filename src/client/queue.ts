// Sends made while the client is not connected: bounded in number and in waiting time.
import { unavailable } from './errors.js'
import type { IpcError } from './errors.js'

interface Waiting {
  send (): void
  fail (err: IpcError): void
  timer: ReturnType<typeof setTimeout>
}

export class SendQueue {
  private readonly waiting = new Set<Waiting>()

  constructor (private readonly max: number, private readonly timeoutMs: number) {}

  /** Holds `send` until flush(); `fail` gets the reason when it is not sent. Throws when full. */
  add (send: () => void, fail: (err: IpcError) => void): { cancel (): void } {
    if (this.waiting.size >= this.max) throw unavailable(`Not connected, and ${this.max} calls already wait for the connection`)
    const item: Waiting = {
      send,
      fail,
      timer: setTimeout(() => {
        this.waiting.delete(item)
        fail(unavailable(`Not connected within ${this.timeoutMs} ms`))
      }, this.timeoutMs)
    }
    this.waiting.add(item)
    return {
      cancel: () => {
        clearTimeout(item.timer)
        this.waiting.delete(item)
      }
    }
  }

  /** Sends everything waiting, oldest first. */
  flush (): void {
    for (const item of this.drain()) item.send()
  }

  failAll (err: IpcError): void {
    for (const item of this.drain()) item.fail(err)
  }

  private drain (): Waiting[] {
    const items = [...this.waiting]
    this.waiting.clear()
    for (const item of items) clearTimeout(item.timer)
    return items
  }
}
