// The node's sharded pub/sub connection (SSUBSCRIBE, Redis 7): the one module that knows how ioredis
// does it. One Redis server takes many channels in one command; a Cluster needs one command per slot,
// and ioredis' `shardedSubscribers` option keeps one subscriber per master and moves the channels
// when slots move. Changes made in one turn of the event loop go out as one batch.
// test/broker/redis-fanout.test.ts checks that ioredis still works this way.
import type { Cluster, ClusterOptions, Redis, RedisOptions } from 'ioredis'
import type { RedisClient } from './redis-link.js'

/** channels per SSUBSCRIBE after a reconnect, so one command stays small */
const CHUNK = 1000

interface Deferred { promise: Promise<void>, resolve: () => void }

function deferred (): Deferred {
  let resolve!: () => void
  const promise = new Promise<void>(res => { resolve = res })
  return { promise, resolve }
}

export class ChannelSubscriber {
  /** the channels wanted now; each one's SSUBSCRIBE may still be on its way */
  private readonly wanted = new Set<string>()
  /** answered once the SSUBSCRIBE that carries it is acknowledged */
  private readonly ready = new Map<string, Promise<void>>()
  private toAdd = new Set<string>()
  private toDrop = new Set<string>()
  private batch: Deferred | null = null
  private wasReady = false

  /**
   * `sub` is a connection made for this only (standalone: autoResubscribe off, this class subscribes
   * again itself and then calls `resubscribed`, so the caller can recover what the gap lost).
   */
  constructor (
    private readonly sub: RedisClient,
    onMessage: (channel: string, message: string) => void,
    private readonly resubscribed: () => void,
    private readonly onError: (err: unknown) => void
  ) {
    sub.on('smessage', onMessage)
    if (sub.isCluster) {
      sub.on('subscribersReady', () => { if (this.wasReady) resubscribed(); this.wasReady = true })
    } else {
      sub.on('ready', () => { void this.again() })
    }
  }

  /** Subscribes (in the next batch); resolves once Redis acknowledged it, or the attempt failed. */
  async add (channel: string): Promise<void> {
    if (this.wanted.has(channel)) return await this.ready.get(channel)
    this.wanted.add(channel)
    if (!this.toDrop.delete(channel)) this.toAdd.add(channel)
    const batch = this.schedule()
    if (!this.ready.has(channel)) this.ready.set(channel, batch.promise)
    return await this.ready.get(channel)
  }

  remove (channel: string): void {
    if (!this.wanted.delete(channel)) return
    if (!this.toAdd.delete(channel)) this.toDrop.add(channel)
    this.ready.delete(channel)
    this.schedule()
  }

  /** how many channels are wanted */
  get size (): number {
    return this.wanted.size
  }

  private schedule (): Deferred {
    if (this.batch !== null) return this.batch
    const batch = this.batch = deferred()
    setImmediate(() => { void this.flush(batch) })
    return batch
  }

  private async flush (batch: Deferred): Promise<void> {
    this.batch = null
    const add = [...this.toAdd]
    const drop = [...this.toDrop]
    this.toAdd = new Set()
    this.toDrop = new Set()
    try {
      await Promise.all([this.send('ssubscribe', add), this.send('sunsubscribe', drop)])
    } catch (err) {
      // a link that is down is subscribed again as a whole when it returns
      if (this.sub.status === 'ready') this.onError(err)
    }
    batch.resolve()
  }

  private async send (command: 'ssubscribe' | 'sunsubscribe', channels: string[]): Promise<void> {
    if (channels.length === 0) return
    if (this.sub.isCluster) {
      // a Cluster refuses channels of several slots in one command
      await Promise.all(channels.map(async c => await (this.sub as Cluster)[command](c)))
      return
    }
    for (let i = 0; i < channels.length; i += CHUNK) await (this.sub as Redis)[command](...channels.slice(i, i + CHUNK))
  }

  // Standalone or Sentinel: after a reconnect, every wanted channel again, then the caller's recovery.
  private async again (): Promise<void> {
    const reconnected = this.wasReady
    this.wasReady = true
    try {
      await this.send('ssubscribe', [...this.wanted])
    } catch (err) {
      this.onError(err)
      return
    }
    if (reconnected) this.resubscribed()
  }
}

/** ioredis options of the subscriber connection this class expects (see the constructor). */
export const subscriberOptions: Partial<RedisOptions> = { autoResubscribe: false }
export const clusterSubscriberOptions: Partial<ClusterOptions> = { shardedSubscribers: true }
