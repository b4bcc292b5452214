// This node's call statistics for the admin page (docs/protocol.md §9 Admin): per-method counters
// and latency buckets, recent errors, and a per-second history. A call costs a few increments; the
// per-second work (a copy of the counters, for the sliding window) runs on the snapshot timer.
import { type MethodCounters, type MethodSnapshot, type NodeSnapshot, type RecentError, STATS_BUCKETS, STATS_ERRORS_KEPT, STATS_HISTORY_SECONDS, STATS_TOP_ROOMS } from '../protocol/admin.js'

/** latency quantiles and error rates cover this many seconds; calls per second, RATE_SECONDS */
const WINDOW_SECONDS = 60
const RATE_SECONDS = 10

const counters = (): MethodCounters => ({ calls: 0, errors: 0, buckets: new Array<number>(STATS_BUCKETS.length + 1).fill(0) })
const copy = (c: MethodCounters): MethodCounters => ({ calls: c.calls, errors: c.errors, buckets: c.buckets.slice() })

/** What the node itself knows at a tick: its connections, users and rooms. */
export interface NodeState {
  node: string
  brokerUp: boolean
  connections: { pending: number, authenticated: number }
  users: number
  /** room -> connections in it */
  rooms: ReadonlyMap<string, { size: number }>
}

export class NodeStats {
  readonly startedAt = Date.now()
  private readonly methods = new Map<string, MethodCounters>()
  /** copies of `methods` taken at each tick, oldest first, at most WINDOW_SECONDS + 1 */
  private readonly past: Array<Map<string, MethodCounters>> = []
  private calls = 0
  private errors = 0
  private counted = { calls: 0, errors: 0 }
  private readonly recentErrors: RecentError[] = []
  private readonly history = { end: 0, calls: [] as number[], errors: [] as number[], connections: [] as number[] }

  /** one call's outcome and duration */
  record (method: string, ok: boolean, seconds: number): void {
    let c = this.methods.get(method)
    if (c === undefined) this.methods.set(method, c = counters())
    c.calls++
    this.calls++
    if (!ok) {
      c.errors++
      this.errors++
    }
    let i = 0
    while (i < STATS_BUCKETS.length && seconds > STATS_BUCKETS[i]) i++
    c.buckets[i]++
  }

  /** a failed call, for the recent-errors list (the newest STATS_ERRORS_KEPT are kept) */
  failed (error: RecentError): void {
    this.recentErrors.push(error)
    if (this.recentErrors.length > STATS_ERRORS_KEPT) this.recentErrors.shift()
  }

  /** Closes the second that just ended (call once a second) and describes the node. */
  tick (state: NodeState, now = Date.now()): NodeSnapshot {
    const h = this.history
    const second = Math.floor(now / 1000)
    const { pending, authenticated } = state.connections
    const calls = this.calls - this.counted.calls
    const errors = this.errors - this.counted.errors
    const last = h.calls.length - 1
    if (second === h.end && last >= 0) {
      // two ticks in one second (the timer drifts): one entry
      h.calls[last] += calls
      h.errors[last] += errors
      h.connections[last] = pending + authenticated
    } else {
      // a late timer leaves gaps: seconds without a tick count nothing
      if (h.end !== 0) for (let s = h.end + 1; s < second; s++) this.push(0, 0, h.connections.at(-1) ?? 0)
      this.push(calls, errors, pending + authenticated)
    }
    h.end = second
    this.counted = { calls: this.calls, errors: this.errors }
    this.past.push(new Map([...this.methods].map(([name, c]) => [name, copy(c)])))
    if (this.past.length > WINDOW_SECONDS + 1) this.past.shift()
    return {
      v: 1,
      node: state.node,
      startedAt: this.startedAt,
      updatedAt: now,
      brokerUp: state.brokerUp,
      connections: state.connections,
      users: state.users,
      rooms: state.rooms.size,
      windowSeconds: Math.min(WINDOW_SECONDS, this.past.length - 1),
      rateSeconds: Math.min(RATE_SECONDS, this.past.length - 1),
      methods: this.methodSnapshots(),
      topRooms: topRooms(state.rooms),
      errors: this.recentErrors.slice(),
      history: { end: h.end, calls: h.calls.slice(), errors: h.errors.slice(), connections: h.connections.slice() }
    }
  }

  private push (calls: number, errors: number, connections: number): void {
    const h = this.history
    h.calls.push(calls)
    h.errors.push(errors)
    h.connections.push(connections)
    if (h.calls.length > STATS_HISTORY_SECONDS) {
      h.calls.shift()
      h.errors.shift()
      h.connections.shift()
    }
  }

  private methodSnapshots (): MethodSnapshot[] {
    const now = this.past[this.past.length - 1]
    const windowStart = this.past[0]
    const rateStart = this.past[Math.max(0, this.past.length - 1 - RATE_SECONDS)]
    return [...now].map(([method, total]) => {
      const before = windowStart.get(method) ?? counters()
      return {
        method,
        total,
        window: { calls: total.calls - before.calls, errors: total.errors - before.errors, buckets: total.buckets.map((n, i) => n - before.buckets[i]) },
        recentCalls: total.calls - (rateStart.get(method)?.calls ?? 0)
      }
    })
  }
}

function topRooms (rooms: ReadonlyMap<string, { size: number }>): Array<{ room: string, members: number }> {
  const all = Array.from(rooms, ([room, members]) => ({ room, members: members.size }))
  all.sort((a, b) => b.members - a.members || (a.room < b.room ? -1 : 1))
  return all.slice(0, STATS_TOP_ROOMS)
}
