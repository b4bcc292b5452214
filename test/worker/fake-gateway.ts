// Plays the gateway's side of docs/protocol.md §9 with raw ioredis: XADD requests, BLPOP replies.
import { Redis } from 'ioredis'
import type { Caller } from '../../src/protocol/frames.js'
import type { WorkerLogger } from '../../src/worker/log.js'

export interface WireReply { id: string, result?: unknown, error?: { code: number, message: string, data?: unknown }, progress?: unknown }

export interface Answer { final: WireReply, progress: unknown[] }

export const caller: Caller = { userId: '42', connectionId: 'c1', node: 'node1', roles: ['user'], claims: { sub: '42' } }

export class FakeGateway {
  readonly redis: Redis
  private readonly reader: Redis
  private seq = 0
  /** replies popped for requests nobody awaited yet */
  private readonly answers = new Map<string, Answer>()

  constructor (url: string, readonly node = 'node1', readonly prefix = 'ipc:') {
    this.redis = new Redis(url)
    this.reader = this.redis.duplicate()
    // Tests that restart Redis expect errors while it is down; ioredis reconnects by itself.
    for (const c of [this.redis, this.reader]) c.on('error', () => {})
  }

  get replyKey (): string {
    return `${this.prefix}reply:${this.node}`
  }

  /** XADDs one request with every field of section 9; resolves with the request id. */
  async send (service: string, method: string, params: unknown, { deadline = Date.now() + 30000, fields = {} as Record<string, string> } = {}): Promise<string> {
    const id = `${this.node}:${++this.seq}`
    const all = { v: '1', id, method, params: JSON.stringify(params), caller: JSON.stringify(caller), reply: this.replyKey, deadline: String(deadline), ...fields }
    await this.redis.xadd(`${this.prefix}rpc:${service}`, 'MAXLEN', '~', 100000, '*', ...Object.entries(all).flat())
    return id
  }

  /** Waits for the final reply of each id (collecting progress frames), BLPOPping the node's list. */
  async wait (ids: string[], timeoutMs = 15000): Promise<Answer[]> {
    const end = Date.now() + timeoutMs
    while (!ids.every(id => this.answers.get(id)?.final !== undefined)) {
      if (Date.now() > end) throw new Error(`no reply for ${ids.filter(id => this.answers.get(id)?.final === undefined).join(', ')} within ${timeoutMs} ms`)
      const popped = await this.reader.blpop(this.replyKey, 0.5)
      if (popped === null) continue
      const reply = JSON.parse(popped[1]) as WireReply
      const a = this.answers.get(reply.id) ?? { final: undefined as unknown as WireReply, progress: [] }
      if ('progress' in reply) a.progress.push(reply.progress)
      else a.final = reply
      this.answers.set(reply.id, a)
    }
    return ids.map(id => this.answers.get(id)!)
  }

  async call (service: string, method: string, params: unknown, options?: { deadline?: number }): Promise<Answer> {
    const [answer] = await this.wait([await this.send(service, method, params, options)])
    return answer
  }

  async close (): Promise<void> {
    await Promise.all([this.redis.quit(), this.reader.quit()])
  }
}

/** Polls `check` until it returns true. */
export async function until (check: () => boolean | Promise<boolean>, timeoutMs = 10000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!await check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 25))
  }
}

export const sleep = async (ms: number): Promise<void> => await new Promise(resolve => setTimeout(resolve, ms))

/** A logger that keeps what it is told, for assertions (and keeps test output quiet). */
export function memoryLogger (): WorkerLogger & { lines: Array<{ level: string, obj: unknown, msg?: string }> } {
  const lines: Array<{ level: string, obj: unknown, msg?: string }> = []
  const at = (level: string) => (obj: object | string, msg?: string) => { lines.push({ level, obj, msg }) }
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }
}
