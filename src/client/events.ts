// Event handlers by event name; a handler that throws does not keep the others from running.
import type { EventHandler, EventMeta } from './types.js'

export interface EventParams { event: string, data: unknown, target: string, offset?: string, epoch?: string }

export class EventHandlers {
  private readonly byName = new Map<string, Set<EventHandler>>()

  on (event: string, handler: EventHandler): void {
    let set = this.byName.get(event)
    if (set === undefined) this.byName.set(event, set = new Set())
    set.add(handler)
  }

  off (event: string, handler: EventHandler): void {
    const set = this.byName.get(event)
    set?.delete(handler)
    if (set?.size === 0) this.byName.delete(event)
  }

  /** Runs the handlers of one `rpc.event` frame's params. */
  emit (params: EventParams): void {
    const set = this.byName.get(params.event)
    if (set === undefined) return
    const meta: EventMeta = { event: params.event, target: params.target }
    if (params.offset !== undefined) meta.offset = params.offset
    if (params.epoch !== undefined) meta.epoch = params.epoch
    for (const handler of [...set]) guard(() => handler(params.data, meta))
  }
}

// A throwing user callback must not break the message loop; its error is rethrown on its own.
export function guard (fn: () => void): void {
  try {
    fn()
  } catch (err) {
    queueMicrotask(() => { throw err })
  }
}
