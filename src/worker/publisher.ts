// Publishes events on the `ipc:events` stream, which every gateway node reads (docs/protocol.md §9),
// and control commands on the control channel (docs/protocol.md §9 Control, §10).
import { sendControl } from '../broker/control-wire.js'
import { EVENTS_MAXLEN, type Keys, keys } from '../broker/keys.js'
import type { OutgoingEvent } from '../broker/types.js'
import { controlCommand, type DisconnectBody, type RevokeBody, type SubscribeBody } from '../protocol/control.js'
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
  private readonly keys: Keys

  constructor (options: PublisherOptions) {
    const { client, owned } = connect(options.redis, options.logger ?? consoleLogger, 'publisher', options.cluster)
    this.redis = client
    this.owned = owned
    this.keys = keys(options.prefix)
    this.stream = this.keys.events
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

  /**
   * Puts every connection of a user (`userId`), or one (`connectionId`), into `room`, on whichever
   * gateway node it is (docs/protocol.md §10); a bad argument throws -32602 with the reason.
   */
  async subscribe (target: SubscribeBody): Promise<void> {
    await sendControl(this.redis, this.keys, controlCommand('subscribe', target))
  }

  /** Takes them out of `room`. */
  async unsubscribe (target: SubscribeBody): Promise<void> {
    await sendControl(this.redis, this.keys, controlCommand('unsubscribe', target))
  }

  /** Closes them with `code` (1000, 1008 or 3000-4999; 4000 by default) and `reason`. */
  async disconnect (target: DisconnectBody): Promise<void> {
    await sendControl(this.redis, this.keys, controlCommand('disconnect', target))
  }

  /**
   * Refuses a user's tokens issued before `before` (now by default), or one token by `jti`, on every
   * node until `expiresAt` (24 h by default), and closes their connections with 4003.
   */
  async revoke (revocation: RevokeBody): Promise<void> {
    await sendControl(this.redis, this.keys, controlCommand('revoke', revocation))
  }

  /** Closes the connection if the Publisher made it. */
  async close (): Promise<void> {
    if (this.owned) await close(this.redis)
  }
}
