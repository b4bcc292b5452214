// Where the client is in each target's history (docs/protocol.md §4, §5): the offset and epoch of the
// last event of every room it is in and of its user, so a reconnect can ask for what it missed.
import type { EventParams } from './events.js'

export interface Position { offset: string, epoch: string }

export class Positions {
  private readonly byTarget = new Map<string, Position>()

  get (target: string): Position | undefined {
    return this.byTarget.get(target)
  }

  /** From a join or auth answer: its position when the target keeps history, none otherwise. */
  set (target: string, answer: { offset?: unknown, epoch?: unknown }): void {
    if (typeof answer.offset === 'string' && typeof answer.epoch === 'string') this.byTarget.set(target, { offset: answer.offset, epoch: answer.epoch })
    else this.byTarget.delete(target)
  }

  /** An event moves its target's position, when it carries one. */
  seen (ev: EventParams): void {
    if (typeof ev.offset === 'string' && typeof ev.epoch === 'string' && this.byTarget.has(ev.target)) {
      this.byTarget.set(ev.target, { offset: ev.offset, epoch: ev.epoch })
    }
  }

  /** the client left the target */
  forget (target: string): void {
    this.byTarget.delete(target)
  }
}

/** A new idempotency key: 128 random bits (crypto randomness, in browsers and Node), as hex. */
export function newIdempotencyKey (): string {
  const bytes = new Uint8Array(16)
  globalThis.crypto.getRandomValues(bytes)
  let hex = ''
  for (const b of bytes) hex += b.toString(16).padStart(2, '0')
  return hex
}
