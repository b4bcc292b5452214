// Publishes events as docs/protocol.md §9 (Events) says: SPUBLISH on the target's channel, or, for a
// target that keeps history, the script that adds it to the target's history and publishes it in
// one command turn. Which targets keep history is what the gateways wrote to Redis, read again
// every few seconds. Control commands go on the control channel (docs/protocol.md §9 Control, §10).
import type { Redis } from 'ioredis'
import { sendControl } from '../broker/control-wire.js'
import {
  CONFIG_REFRESH_MS, type HistoryConfig, channelOf, configKey, encodeMessage, historyKeys, keepsHistory, parseConfig
} from '../broker/history.js'
import { type Keys, keys } from '../broker/keys.js'
import { defineScripts } from '../broker/redis-events.js'
import type { OutgoingEvent, PublishResult } from '../broker/types.js'
import { controlCommand, type DisconnectBody, type RevokeBody, type SubscribeBody } from '../protocol/control.js'
import { consoleLogger, type WorkerLogger } from './log.js'
import { close, connect, type RedisInput, type WorkerRedis } from './redis.js'

export type { PublishResult }

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

interface Scripted {
  ipcHistoryPublish (stream: string, epoch: string, channel: string, size: number, ttlMs: number, event: string, data: string, exclude: string): Promise<[string, string]>
}

export class Publisher {
  private readonly redis: WorkerRedis & Scripted
  private readonly owned: boolean
  private readonly prefix: string
  private readonly keys: Keys
  private config: Promise<HistoryConfig> | null = null
  private readAt = 0

  constructor (options: PublisherOptions) {
    const { client, owned } = connect(options.redis, options.logger ?? consoleLogger, 'publisher', options.cluster)
    defineScripts(client)
    this.redis = client as WorkerRedis & Scripted
    this.owned = owned
    this.prefix = options.prefix ?? 'ipc:'
    this.keys = keys(options.prefix)
  }

  /** Every connection of a user, on every node. Resolves with the event's offset and epoch when the target keeps history. */
  async toUser (userId: string, event: string, data?: unknown, options?: PublishOptions): Promise<PublishResult> {
    return await this.publish({ target: `user:${userId}`, event, data, exclude: options?.exclude })
  }

  /** Every member of a room. */
  async toRoom (room: string, event: string, data?: unknown, options?: PublishOptions): Promise<PublishResult> {
    return await this.publish({ target: `room:${room}`, event, data, exclude: options?.exclude })
  }

  /** One connection. */
  async toConnection (connectionId: string, event: string, data?: unknown): Promise<PublishResult> {
    return await this.publish({ target: `conn:${connectionId}`, event, data })
  }

  /** Every connection of every node. */
  async broadcast (event: string, data?: unknown, options?: PublishOptions): Promise<PublishResult> {
    return await this.publish({ target: 'all', event, data, exclude: options?.exclude })
  }

  /** Any target: `user:<id>`, `room:<name>`, `conn:<id>` or `all`. */
  async publish ({ target, event, data, exclude }: OutgoingEvent): Promise<PublishResult> {
    const json = JSON.stringify(data ?? null)
    const channel = channelOf(this.prefix, target)
    const config = await this.history()
    if (!keepsHistory(config, target)) {
      await (this.redis as Redis).spublish(channel, encodeMessage(exclude === undefined ? { event } : { event, exclude }, json))
      return {}
    }
    const [stream, epochKey] = historyKeys(this.prefix, target)
    const [offset, epoch] = await this.redis.ipcHistoryPublish(stream, epochKey, channel, config.size, config.ttlMs, event, json, exclude ?? '')
    return { offset, epoch }
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

  // The gateways' HistoryConfig, read again once it is CONFIG_REFRESH_MS old (one read for the
  // publishes of that moment); the defaults while no gateway has written one.
  private async history (): Promise<HistoryConfig> {
    const now = Date.now()
    if (this.config === null || now - this.readAt > CONFIG_REFRESH_MS) {
      this.readAt = now
      const previous = this.config
      this.config = this.redis.get(configKey(this.prefix)).then(parseConfig, async err => {
        this.config = previous
        this.readAt = 0
        if (previous === null) throw err
        return await previous
      })
    }
    return await this.config
  }
}
