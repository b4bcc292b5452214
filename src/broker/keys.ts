// Every Redis key of docs/protocol.md §9, in one place.
export interface Keys {
  rpc (service: string): string
  dead (service: string): string
  reply (nodeId: string): string
  workers (service: string): string
  methods (service: string): string
  readonly catalog: string
  /** the request log stream (docs/protocol.md §9) */
  readonly requests: string
  presenceUser (userId: string): string
  presenceRoom (room: string): string
  readonly presenceOnline: string
  /** the record of one call with an idempotency key (`scoped`: its user and key) */
  result (scoped: string): string
  /** the channel that says a record's answer is stored, to nodes waiting for it */
  readonly resultNews: string
  readonly lifecycle: string
  /** a user's connections in a room of presenceEventRooms, which decide presence.join/leave */
  presenceMembers (room: string, userId: string): string
  /** the rooms of presenceEventRooms that have members, for the sweeper */
  readonly presenceEventRooms: string
  /** the lock of the node that sweeps expired members */
  readonly presenceSweeper: string
  /** the channel of control commands */
  readonly control: string
  revokedUser (userId: string): string
  revokedToken (jti: string): string
  /** a node's stats snapshot, and the set of nodes that published one (docs/protocol.md §9 Admin) */
  adminNode (nodeId: string): string
  readonly adminNodes: string
  /** the channel of connection lookups, and the channel of a node's answers */
  readonly adminAsk: string
  adminAnswer (nodeId: string): string
}

export function keys (prefix = 'ipc:'): Keys {
  return {
    rpc: service => `${prefix}rpc:${service}`,
    dead: service => `${prefix}rpc:${service}:dead`,
    reply: nodeId => `${prefix}reply:${nodeId}`,
    workers: service => `${prefix}workers:${service}`,
    methods: service => `${prefix}methods:${service}`,
    catalog: `${prefix}catalog`,
    requests: `${prefix}requests`,
    presenceUser: userId => `${prefix}presence:user:${userId}`,
    presenceRoom: room => `${prefix}presence:room:${room}`,
    presenceOnline: `${prefix}presence:online`,
    result: scoped => `${prefix}idem:${scoped}`,
    resultNews: `${prefix}idem`,
    lifecycle: `${prefix}lifecycle`,
    // a room name has no `|`: the user id after it is unambiguous
    presenceMembers: (room, userId) => `${prefix}presence:members:${room}|${userId}`,
    presenceEventRooms: `${prefix}presence:event-rooms`,
    presenceSweeper: `${prefix}presence:sweeper`,
    control: `${prefix}control`,
    revokedUser: userId => `${prefix}revoked:user:${userId}`,
    revokedToken: jti => `${prefix}revoked:jti:${jti}`,
    adminNode: nodeId => `${prefix}admin:node:${nodeId}`,
    adminNodes: `${prefix}admin:nodes`,
    adminAsk: `${prefix}admin:ask`,
    adminAnswer: nodeId => `${prefix}admin:answer:${nodeId}`
  }
}

/** The consumer group every worker of a service reads requests with. */
export const WORKER_GROUP = 'workers'
export const REQUEST_MAXLEN = 100000
export const REPLY_TTL_MS = 60000
export const LIFECYCLE_MAXLEN = 100000
export const CLAIM_IDLE_MS = 5000
export const MAX_DELIVERIES = 3
export const WORKER_TTL_MS = 15000
export const WORKER_HEARTBEAT_MS = 5000
/**
 * Lifetime of a presence key, only so keys left by crashed nodes are collected at last: members
 * expire by score. Long and the same on every node, so one node never cuts another's entries short.
 */
export const PRESENCE_KEY_TTL_MS = 24 * 3600 * 1000
