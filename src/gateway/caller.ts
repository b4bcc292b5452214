// The caller a worker sees (docs/protocol.md §9), for calls made on behalf of a connection.
import type { Identity } from '../config.js'
import type { Caller } from '../protocol/frames.js'

export function callerOf (identity: Identity | null, connectionId: string, node: string): Caller {
  return {
    userId: identity?.userId ?? '',
    connectionId,
    node,
    roles: identity?.roles ?? [],
    claims: identity?.claims ?? {}
  }
}
