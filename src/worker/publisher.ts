// Publishes events on the `ipc:events` stream, which every gateway node reads (docs/protocol.md §9).
import { EVENTS_MAXLEN, keys } from '../broker/keys.js'
import type { OutgoingEvent } from '../broker/types.js'
import { consoleLogger, type WorkerLogger } from './log.js'
import { close, connect, type RedisInput, type WorkerRedis } from './redis.js'

export interface PublisherOptions {
  redis: RedisInput
  /** `redis` is the URL of one node of a Redis Cluster (false) */
  cluster?: boolean
  /** key prefix, `ipc:` by default */
  prefix?: string
  /** where connection trouble is reported; console by default */
  logger?: WorkerLogger
}

export interface PublishOptions {
  /** a connection id that must not receive the event (usually the sender's) */
  exclude?: string
}

export class Publisher {
  private readonly redis: WorkerRedis
  private readonly owned: boolean
  private readonly stream: string

  constructor (options: PublisherOptions) {
    const { client, owned } = connect(options.redis, options.logger ?? consoleLogger, 'publisher', options.cluster)
    this.redis = client
    this.owned = owned
    this.stream = keys(options.prefix).events
  }

  /** Every connection of a user, on every node. Resolves with the event's stream id. */
  async toUser (userId: string, event: string, data?: unknown, options?: PublishOptions): Promise<string> {
    return await this.publish({ target: `user:${userId}`, event, data, exclude: options?.exclude })
  }

  /** Every member of a room. */
  async toRoom (room: string, event: string, data?: unknown, options?: PublishOptions): Promise<string> {
    return await this.publish({ target: `room:${room}`, event, data, exclude: options?.exclude })
  }

  /** One connection. */
  async toConnection (connectionId: string, event: string, data?: unknown): Promise<string> {
    return await this.publish({ target: `conn:${connectionId}`, event, data })
  }

  /** Every connection of every node. */
  async broadcast (event: string, data?: unknown, options?: PublishOptions): Promise<string> {
    return await this.publish({ target: 'all', event, data, exclude: options?.exclude })
  }

  /** Any target: `user:<id>`, `room:<name>`, `conn:<id>` or `all`. */
  async publish ({ target, event, data, exclude }: OutgoingEvent): Promise<string> {
    const fields = ['target', target, 'event', event, 'data', JSON.stringify(data ?? null)]
    if (exclude !== undefined) fields.push('exclude', exclude)
    const id = await this.redis.xadd(this.stream, 'MAXLEN', '~', EVENTS_MAXLEN, '*', ...fields)
    return id as string
  }

  /** Closes the connection if the Publisher made it. */
  async close (): Promise<void> {
    if (this.owned) await close(this.redis)
  }
}
