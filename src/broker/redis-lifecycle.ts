// The lifecycle stream (docs/protocol.md §9): one bounded stream of connect, disconnect, join and
// leave records that backends read with a consumer group of their own.
import { LIFECYCLE_MAXLEN } from './keys.js'
import type { RedisClient } from './redis-link.js'
import type { LifecycleLog, LifecycleRecord } from './types.js'

export class RedisLifecycle implements LifecycleLog {
  constructor (
    private readonly redis: RedisClient,
    private readonly key: string,
    private readonly nodeId: string
  ) {}

  async append ({ type, userId, connectionId, room, rooms }: LifecycleRecord): Promise<void> {
    const fields = ['type', type, 'userId', userId, 'connectionId', connectionId, 'node', this.nodeId, 'time', String(Date.now())]
    if (room !== undefined) fields.push('room', room)
    if (rooms !== undefined) fields.push('rooms', JSON.stringify(rooms))
    await this.redis.xadd(this.key, 'MAXLEN', '~', LIFECYCLE_MAXLEN, '*', ...fields)
  }
}
