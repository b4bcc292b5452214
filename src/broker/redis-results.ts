// Answers of calls with an idempotency key, across nodes (docs/protocol.md §3 and §9): one hash per
// record, claimed with a script (the Redis form of SET NX that also reads what holds the key), its
// answer stored by the run that claimed it, and a PUBLISH on `ipc:idem` when a node waits for it.
import type { Keys } from './keys.js'
import { type RedisClient, ready } from './redis-link.js'
import { ResultWatchers } from './result-watchers.js'
import type { Claim, ResultStore, Watch } from './types.js'

/** how long the first wait gives the notification connection to connect */
const READY_MS = 1000

// One command each, so a record is never seen half made; every script touches its one key (Cluster).
const CLAIM = `
local cur = redis.call('HMGET', KEYS[1], 'fp', 'answer')
if not cur[1] then
  redis.call('HSET', KEYS[1], 'fp', ARGV[1], 'token', ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return {'claimed'}
end
if cur[1] ~= ARGV[1] then return {'conflict'} end
if cur[2] then return {'done', cur[2]} end
if ARGV[4] == '1' then redis.call('HSET', KEYS[1], 'waiting', '1') end
return {'running'}`

const COMPLETE = `
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then return 0 end
local waiting = redis.call('HGET', KEYS[1], 'waiting')
redis.call('HSET', KEYS[1], 'answer', ARGV[2])
redis.call('HDEL', KEYS[1], 'waiting')
redis.call('PEXPIRE', KEYS[1], ARGV[3])
if waiting then redis.call('PUBLISH', ARGV[4], KEYS[1]) end
return 1`

const RELEASE = `
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then return 0 end
local waiting = redis.call('HGET', KEYS[1], 'waiting')
redis.call('DEL', KEYS[1])
if waiting then redis.call('PUBLISH', ARGV[2], KEYS[1]) end
return 1`

export class RedisResults implements ResultStore {
  private readonly watchers = new ResultWatchers()
  private sub: RedisClient | null = null
  private subscribed: Promise<void> | null = null

  /** `subscriber` makes the connection notifications arrive on, at the first wait (most nodes never wait) */
  constructor (private readonly redis: RedisClient, private readonly keys: Keys, private readonly subscriber: () => RedisClient) {}

  async claim (key: string, fingerprint: string, token: string, leaseMs: number, waiting: boolean): Promise<Claim> {
    // Listening before the record says someone waits: the notification cannot come before we hear it.
    // Not listening (the connection is down) only slows the waiter to the watch's own timer.
    if (waiting) await this.listen().catch(() => undefined)
    const got = await this.redis.eval(CLAIM, 1, this.keys.result(key), fingerprint, token, String(leaseMs), waiting ? '1' : '0') as [string, string?]
    switch (got[0]) {
      case 'claimed': return { state: 'claimed' }
      case 'conflict': return { state: 'conflict' }
      case 'done': return { state: 'done', answer: got[1]! }
      default: return { state: 'running' }
    }
  }

  async complete (key: string, token: string, answer: string, ttlMs: number): Promise<void> {
    await this.redis.eval(COMPLETE, 1, this.keys.result(key), token, answer, String(ttlMs), this.keys.resultNews)
  }

  async release (key: string, token: string): Promise<void> {
    await this.redis.eval(RELEASE, 1, this.keys.result(key), token, this.keys.resultNews)
  }

  watch (key: string, ms: number): Watch {
    return this.watchers.watch(this.keys.result(key), ms)
  }

  private async listen (): Promise<void> {
    if (this.subscribed === null) {
      const sub = this.sub ??= this.subscriber()
      sub.on('message', (_channel: string, key: string) => this.watchers.wake(key))
      // ioredis subscribes again after a reconnect; news missed meanwhile are made up by the watch's timer
      this.subscribed = ready(sub, READY_MS).then(async () => await sub.subscribe(this.keys.resultNews)).then(() => undefined, (err: Error) => {
        this.subscribed = null
        sub.removeAllListeners('message')
        throw err
      })
    }
    await this.subscribed
  }
}
