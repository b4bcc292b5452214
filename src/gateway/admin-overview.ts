// The admin page's overview: every node's snapshot merged into one picture (docs/protocol.md §10).
import { type NodeSnapshot, type Overview, type ServiceState, STATS_BUCKETS, STATS_HISTORY_SECONDS } from '../protocol/admin.js'

const ROOMS_SHOWN = 50
const ERRORS_SHOWN = 50

export function overview (node: string, snapshots: NodeSnapshot[], services: ServiceState[], now = Date.now()): Overview {
  return {
    node,
    time: now,
    nodes: snapshots.map(({ node, startedAt, updatedAt, brokerUp, connections, users, rooms }) => ({ node, startedAt, updatedAt, brokerUp, connections, users, rooms })),
    services,
    methods: methods(snapshots),
    rooms: rooms(snapshots),
    errors: snapshots.flatMap(s => s.errors).sort((a, b) => b.at - a.at).slice(0, ERRORS_SHOWN),
    history: history(snapshots)
  }
}

function methods (snapshots: NodeSnapshot[]): Overview['methods'] {
  const by = new Map<string, { calls: number, errors: number, rate: number, windowCalls: number, windowErrors: number, buckets: number[] }>()
  for (const snap of snapshots) {
    for (const m of snap.methods) {
      let acc = by.get(m.method)
      if (acc === undefined) by.set(m.method, acc = { calls: 0, errors: 0, rate: 0, windowCalls: 0, windowErrors: 0, buckets: new Array<number>(STATS_BUCKETS.length + 1).fill(0) })
      acc.calls += m.total.calls
      acc.errors += m.total.errors
      if (snap.rateSeconds > 0) acc.rate += m.recentCalls / snap.rateSeconds
      acc.windowCalls += m.window.calls
      acc.windowErrors += m.window.errors
      m.window.buckets.forEach((n, i) => { acc.buckets[i] += n })
    }
  }
  return [...by].map(([method, a]) => ({
    method,
    calls: a.calls,
    errors: a.errors,
    rate: Math.round(a.rate * 10) / 10,
    errorRate: a.windowCalls === 0 ? null : a.windowErrors / a.windowCalls,
    p50Ms: quantileMs(0.5, a.buckets),
    p99Ms: quantileMs(0.99, a.buckets)
  })).sort((a, b) => b.calls - a.calls || (a.method < b.method ? -1 : 1))
}

/** Like Prometheus' histogram_quantile: linear within the bucket the rank falls in. */
export function quantileMs (q: number, buckets: number[]): number | null {
  const total = buckets.reduce((s, n) => s + n, 0)
  if (total === 0) return null
  const rank = q * total
  let below = 0
  for (let i = 0; i < buckets.length; i++) {
    if (below + buckets[i] >= rank && buckets[i] > 0) {
      if (i === STATS_BUCKETS.length) return STATS_BUCKETS[i - 1] * 1000
      const lower = i === 0 ? 0 : STATS_BUCKETS[i - 1]
      return (lower + (STATS_BUCKETS[i] - lower) * (rank - below) / buckets[i]) * 1000
    }
    below += buckets[i]
  }
  return STATS_BUCKETS[STATS_BUCKETS.length - 1] * 1000
}

function rooms (snapshots: NodeSnapshot[]): Overview['rooms'] {
  const sum = new Map<string, number>()
  for (const snap of snapshots) for (const { room, members } of snap.topRooms) sum.set(room, (sum.get(room) ?? 0) + members)
  return [...sum].map(([room, members]) => ({ room, members }))
    .sort((a, b) => b.members - a.members || (a.room < b.room ? -1 : 1)).slice(0, ROOMS_SHOWN)
}

/** the shortest history shown, so a young cluster's chart still has a time axis */
const HISTORY_MIN_SECONDS = 60

function history (snapshots: NodeSnapshot[]): Overview['history'] {
  const end = Math.max(0, ...snapshots.map(s => s.history.end))
  // from the oldest node's start: seconds before it would be a flat line of nothing
  const first = Math.min(end, ...snapshots.map(s => Math.floor(s.startedAt / 1000)))
  const n = Math.max(HISTORY_MIN_SECONDS, Math.min(STATS_HISTORY_SECONDS, end - first + 1))
  const calls = new Array<number>(n).fill(0)
  const errors = new Array<number>(n).fill(0)
  const connections: Record<string, number[]> = {}
  for (const snap of snapshots) {
    const h = snap.history
    const mine = connections[snap.node] = new Array<number>(n).fill(0)
    // the node's entry i is the second h.end - (length - 1 - i); ours j is end - (n - 1 - j)
    const shift = n - 1 - (end - h.end) - (h.calls.length - 1)
    h.calls.forEach((c, i) => {
      const j = i + shift
      if (j < 0 || j >= n) return
      calls[j] += c
      errors[j] += h.errors[i]
      mine[j] = h.connections[i]
    })
  }
  return { end, calls, errors, connections }
}
