// Every Redis key of docs/protocol.md §9, in one place.
export interface Keys {
  rpc (service: string): string
  dead (service: string): string
  reply (nodeId: string): string
  workers (service: string): string
  methods (service: string): string
  readonly catalog: string
  readonly events: string
  /** the request log stream (docs/protocol.md §9) */
  readonly requests: string
  presenceUser (userId: string): string
  presenceRoom (room: string): string
  readonly presenceOnline: string
}

export function keys (prefix = 'ipc:'): Keys {
  return {
    rpc: service => `${prefix}rpc:${service}`,
    dead: service => `${prefix}rpc:${service}:dead`,
    reply: nodeId => `${prefix}reply:${nodeId}`,
    workers: service => `${prefix}workers:${service}`,
    methods: service => `${prefix}methods:${service}`,
    catalog: `${prefix}catalog`,
    events: `${prefix}events`,
    requests: `${prefix}requests`,
    presenceUser: userId => `${prefix}presence:user:${userId}`,
    presenceRoom: room => `${prefix}presence:room:${room}`,
    presenceOnline: `${prefix}presence:online`
  }
}

/** The consumer group every worker of a service reads requests with. */
export const WORKER_GROUP = 'workers'
export const REQUEST_MAXLEN = 100000
export const EVENTS_MAXLEN = 100000
export const REPLY_TTL_MS = 60000
export const CLAIM_IDLE_MS = 5000
export const MAX_DELIVERIES = 3
export const WORKER_TTL_MS = 15000
export const WORKER_HEARTBEAT_MS = 5000
/**
 * Lifetime of a presence key, only so keys left by crashed nodes are collected at last: members
 * expire by score. Long and the same on every node, so one node never cuts another's entries short.
 */
export const PRESENCE_KEY_TTL_MS = 24 * 3600 * 1000
