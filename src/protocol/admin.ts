// The records of the admin page (docs/protocol.md §9 Admin, §10): what each node publishes about
// itself every second, and what the page's JSON endpoints answer.

/** A call that failed, as the admin page lists it. */
export interface RecentError {
  /** epoch ms */
  at: number
  node: string
  method: string
  code: number
  message: string
  userId: string
}

/** One method's counters on one node: since the node started, and over its last seconds. */
export interface MethodCounters {
  calls: number
  errors: number
  /** calls per latency bucket (STATS_BUCKETS, then +Inf), not cumulative */
  buckets: number[]
}

export interface MethodSnapshot {
  method: string
  /** since the node started: the counts `/metrics` reports */
  total: MethodCounters
  /** over the last `windowSeconds` */
  window: MethodCounters
  /** calls over the last `rateSeconds` */
  recentCalls: number
}

/** What one node publishes every second (`ipc:admin:node:<node id>`). */
export interface NodeSnapshot {
  v: 1
  node: string
  /** epoch ms */
  startedAt: number
  updatedAt: number
  brokerUp: boolean
  connections: { pending: number, authenticated: number }
  users: number
  rooms: number
  windowSeconds: number
  rateSeconds: number
  methods: MethodSnapshot[]
  /** the rooms of this node with the most connections in them, at most STATS_TOP_ROOMS */
  topRooms: Array<{ room: string, members: number }>
  errors: RecentError[]
  /** one entry per second, oldest first; the last is the second that ended at `end` (epoch s) */
  history: { end: number, calls: number[], errors: number[], connections: number[] }
}

/** One connection of a user, as its node describes it. */
export interface ConnectionInfo {
  connectionId: string
  node: string
  userId: string
  ip: string
  rooms: string[]
  /** epoch ms */
  expiresAt: number | null
}

/** Workers and requests of one service (read from Redis). */
export interface ServiceState {
  service: string
  workers: Array<{ id: string, inFlight: number }>
  /** delivered to a worker, not acked */
  inFlight: number
  /** in the stream, not yet read by any worker */
  pending: number
  /** entries of `ipc:rpc:<service>:dead` */
  dead: number
}

/** One entry of a dead-letter stream. */
export interface DeadLetter {
  /** the stream entry id */
  entryId: string
  /** the request's fields as the worker left them (`id`, `method`, `params`, `caller`, `error`, ...) */
  fields: Record<string, string>
}

/** latency bucket bounds in seconds (the same as ipc_rpc_duration_seconds) */
export const STATS_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
export const STATS_TOP_ROOMS = 100
export const STATS_ERRORS_KEPT = 20
export const STATS_HISTORY_SECONDS = 300
/** how often a node publishes its snapshot, and how long the snapshot lives */
export const STATS_EVERY_MS = 1000
export const STATS_TTL_MS = 5000

/** `GET /admin/api/overview` (docs/protocol.md §10) */
export interface Overview {
  /** the node that answered; epoch ms */
  node: string
  time: number
  nodes: Array<Pick<NodeSnapshot, 'node' | 'startedAt' | 'updatedAt' | 'brokerUp' | 'connections' | 'users' | 'rooms'>>
  services: ServiceState[]
  methods: Array<{
    method: string
    /** since each node started, summed */
    calls: number
    errors: number
    /** calls per second over the last seconds */
    rate: number
    /** over the last minute: errors / calls, and latency quantiles in ms (null without calls) */
    errorRate: number | null
    p50Ms: number | null
    p99Ms: number | null
  }>
  /** rooms with the most connections, summed over nodes */
  rooms: Array<{ room: string, members: number }>
  errors: RecentError[]
  /**
   * per second, oldest first, the last ending at `end` (epoch s): summed calls and errors, and
   * connections per node; from the oldest node's start, 60 to STATS_HISTORY_SECONDS entries
   */
  history: { end: number, calls: number[], errors: number[], connections: Record<string, number[]> }
}
