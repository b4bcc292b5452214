// What the admin page reads across nodes, on Redis (docs/protocol.md §9 Admin). Each node SETs its
// snapshot with a short expiry and scores itself in a sorted set by that expiry, so readers find the
// live nodes without SCAN. A user's connections are asked for on a channel every node listens to;
// each node answers for its own on the asker's channel. Every command touches one key (Cluster).
import { randomUUID } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import { type ConnectionInfo, type DeadLetter, type NodeSnapshot, type ServiceState, STATS_TTL_MS } from '../protocol/admin.js'
import { type Keys, PRESENCE_KEY_TTL_MS, REQUEST_MAXLEN, WORKER_GROUP } from './keys.js'
import type { RedisClient } from './redis-link.js'
import type { AdminStore } from './types.js'

/** how long a lookup waits for the nodes that have not answered yet */
const ASK_TIMEOUT_MS = 1000
const ENTRY_ID = /^\d{1,20}-\d{1,20}$/

interface Asking { expected: Set<string>, found: ConnectionInfo[], done: () => void }

export class RedisAdmin implements AdminStore {
  private readonly asking = new Map<string, Asking>()
  private readonly answerChannel: string

  constructor (
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    private readonly nodeId: string,
    private readonly serviceNames: () => Iterable<string>,
    /** this node's connections of a user (null before the gateway listens) */
    private readonly local: (userId: string) => ConnectionInfo[] | null,
    private readonly log: FastifyBaseLogger
  ) {
    this.answerChannel = keys.adminAnswer(nodeId)
  }

  /** the channels this node subscribes to */
  get channels (): string[] {
    return [this.keys.adminAsk, this.answerChannel]
  }

  async publish (snapshot: NodeSnapshot): Promise<void> {
    const now = Date.now()
    await Promise.all([
      this.redis.set(this.keys.adminNode(this.nodeId), JSON.stringify(snapshot), 'PX', STATS_TTL_MS),
      this.redis.zadd(this.keys.adminNodes, now + STATS_TTL_MS, this.nodeId),
      this.redis.zremrangebyscore(this.keys.adminNodes, '-inf', now),
      this.redis.pexpire(this.keys.adminNodes, PRESENCE_KEY_TTL_MS)
    ])
  }

  async nodes (): Promise<NodeSnapshot[]> {
    const ids = await this.liveNodes()
    const texts = await Promise.all(ids.map(async id => await this.redis.get(this.keys.adminNode(id))))
    const out: NodeSnapshot[] = []
    for (const text of texts) {
      if (text === null) continue
      try {
        const snap = JSON.parse(text) as NodeSnapshot
        if (snap.v === 1) out.push(snap)
      } catch {} // a snapshot of another version, or damaged: that node is left out
    }
    return out.sort((a, b) => a.node < b.node ? -1 : 1)
  }

  async services (): Promise<ServiceState[]> {
    const names = [...this.serviceNames()].sort()
    return await Promise.all(names.map(async service => await this.service(service)))
  }

  private async service (service: string): Promise<ServiceState> {
    const stream = this.keys.rpc(service)
    const [alive, summary, groups, dead] = await Promise.all([
      this.redis.zrangebyscore(this.keys.workers(service), Date.now(), '+inf'),
      this.redis.xpending(stream, WORKER_GROUP).catch(() => null) as Promise<unknown[] | null>,
      this.redis.xinfo('GROUPS', stream).catch(() => []) as Promise<unknown[][]>,
      this.redis.xlen(this.keys.dead(service))
    ])
    const perConsumer = new Map<string, number>((summary?.[3] as Array<[string, string]> | null ?? []).map(([c, n]) => [c, Number(n)]))
    const group = groups.map(pairs).find(g => g.name === WORKER_GROUP)
    return {
      service,
      workers: alive.map(id => ({ id, inFlight: perConsumer.get(id) ?? 0 })),
      inFlight: Number(summary?.[0] ?? 0),
      pending: Number(group?.lag ?? 0),
      dead
    }
  }

  async connectionsOf (userId: string): Promise<ConnectionInfo[]> {
    const id = randomUUID()
    const expected = new Set(await this.liveNodes())
    expected.delete(this.nodeId)
    const found = [...(this.local(userId) ?? [])]
    if (expected.size === 0) return found
    await new Promise<void>(resolve => {
      const timer = setTimeout(resolve, ASK_TIMEOUT_MS)
      const done = (): void => { clearTimeout(timer); resolve() }
      this.asking.set(id, { expected, found, done })
      this.redis.publish(this.keys.adminAsk, JSON.stringify({ id, userId, reply: this.answerChannel })).catch(done)
    })
    this.asking.delete(id)
    return found
  }

  /** A message of one of `channels`: a lookup to answer, or an answer to a lookup of ours. */
  receive (channel: string, text: string): void {
    let msg: { id?: unknown, userId?: unknown, reply?: unknown, node?: unknown, connections?: unknown }
    try {
      msg = JSON.parse(text)
    } catch {
      return
    }
    if (channel === this.keys.adminAsk) {
      if (typeof msg.id !== 'string' || typeof msg.userId !== 'string' || typeof msg.reply !== 'string' || msg.reply === this.answerChannel) return
      const connections = this.local(msg.userId) ?? []
      this.redis.publish(msg.reply, JSON.stringify({ id: msg.id, node: this.nodeId, connections }))
        .catch((err: unknown) => this.log.debug({ err }, 'answering a connection lookup failed'))
      return
    }
    const asking = typeof msg.id === 'string' ? this.asking.get(msg.id) : undefined
    if (asking === undefined || typeof msg.node !== 'string' || !Array.isArray(msg.connections)) return
    asking.found.push(...msg.connections as ConnectionInfo[])
    asking.expected.delete(msg.node)
    if (asking.expected.size === 0) asking.done()
  }

  async deadLetters (service: string, count: number): Promise<{ total: number, entries: DeadLetter[] }> {
    const key = this.keys.dead(service)
    const [total, entries] = await Promise.all([this.redis.xlen(key), this.redis.xrevrange(key, '+', '-', 'COUNT', count)])
    return { total, entries: entries.map(([entryId, fields]) => ({ entryId, fields: fieldsOf(fields) })) }
  }

  // XADD before XDEL: the two keys may live on different Cluster nodes, and a failure between the
  // two leaves the request twice (run at least once, as always), never lost.
  async requeue (service: string, entryId: string, deadlineOf: (method: string) => number): Promise<string | null> {
    if (!ENTRY_ID.test(entryId)) return null
    const key = this.keys.dead(service)
    const [entry] = await this.redis.xrange(key, entryId, entryId)
    if (entry === undefined) return null
    const { error: _error, ...fields } = fieldsOf(entry[1])
    fields.deadline = String(deadlineOf(fields.method ?? ''))
    const args = Object.entries(fields).flat()
    const added = await this.redis.xadd(this.keys.rpc(service), 'MAXLEN', '~', REQUEST_MAXLEN, '*', ...args)
    await this.redis.xdel(key, entryId)
    return added
  }

  async drop (service: string, entryId: string): Promise<boolean> {
    if (!ENTRY_ID.test(entryId)) return false
    return await this.redis.xdel(this.keys.dead(service), entryId) === 1
  }

  private async liveNodes (): Promise<string[]> {
    return await this.redis.zrangebyscore(this.keys.adminNodes, Date.now(), '+inf')
  }
}

/** `[field, value, field, value, …]` as an object */
function fieldsOf (flat: string[]): Record<string, string> {
  const out: Record<string, string> = {}
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i]] = flat[i + 1]
  return out
}

/** an XINFO GROUPS entry (`[name, value, …]`, or a map in RESP3) as an object */
function pairs (entry: unknown): Record<string, unknown> {
  if (!Array.isArray(entry)) return entry as Record<string, unknown>
  const out: Record<string, unknown> = {}
  for (let i = 0; i + 1 < entry.length; i += 2) out[String(entry[i])] = entry[i + 1]
  return out
}
