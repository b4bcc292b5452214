// Issue 20's proof, on real gateway processes and a real Redis, with TypeScript clients reaching the
// nodes through proxies the test cuts (docs/protocol.md §3, §5, §11): across dropped links and a
// SIGKILLed node every client gets every event of its rooms and user exactly once, in order; a flushed
// Redis answers recovered: false and never replays a wrong event; a keyed call runs and answers once.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import { IpcClient, type RecoveryReport } from '../../src/client/index.js'
import { Publisher } from '../../src/worker/publisher.js'
import { token } from '../helper.js'
import { type FreezableProxy, startProxy } from '../client/proxy.js'
import { type GatewayProcess, until } from '../helpers/processes.js'
import { type Cluster, publishHttp, startCluster } from './cluster.js'

const ROOMS = ['feed:1', 'feed:2']
const USERS = ['u0', 'u1', 'u2', 'u3', 'u4']
const TARGETS = [...ROOMS.map(r => `room:${r}`), ...USERS.map(u => `user:${u}`)]
const fast = { initialDelayMs: 100, maxDelayMs: 500 }

let cluster: Cluster
let publisher: Publisher

before(async () => {
  cluster = await startCluster({
    nodes: ['res-a', 'res-b'],
    workers: [{ service: 'res' }],
    env: { IPC_HISTORY_ROOMS: 'feed:*', IPC_HISTORY_SIZE: '1000' }
  })
  publisher = new Publisher({ redis: cluster.redis.url })
})
after(async () => {
  await publisher.close()
  await cluster.stop()
})

interface Seen { src: string, seq: number, offset: string, epoch: string }

/** A client of user `user` in both rooms, recording every tick per target and every recovery report. */
class Watcher {
  readonly client: IpcClient
  readonly got = new Map<string, Seen[]>()
  readonly reports: RecoveryReport[] = []

  constructor (url: string, readonly user: string) {
    this.client = new IpcClient({ url, token: token({ sub: user, rooms: ['feed:*'] }), reconnect: fast, callTimeoutMs: 20000 })
    this.client.on('tick', (data: { src: string, seq: number }, meta) => {
      let list = this.got.get(meta.target)
      if (list === undefined) this.got.set(meta.target, list = [])
      list.push({ src: data.src, seq: data.seq, offset: meta.offset ?? '', epoch: meta.epoch ?? '' })
    })
    this.client.onRecovery(r => this.reports.push(r))
  }

  async start (): Promise<this> {
    await this.client.connect()
    for (const room of ROOMS) await this.client.join(room)
    return this
  }

  targets (): string[] {
    return [...ROOMS.map(r => `room:${r}`), `user:${this.user}`]
  }

  count (): number {
    let n = 0
    for (const t of this.targets()) n += this.got.get(t)?.length ?? 0
    return n
  }
}

/** One proxy per list of gateway ports (each tried in order), closed after the test. */
async function proxied (t: { after: (fn: () => Promise<void>) => void }, ...targets: number[][]): Promise<FreezableProxy[]> {
  const proxies = await Promise.all(targets.map(async ports => await startProxy(ports)))
  t.after(async () => { await Promise.all(proxies.map(async p => await p.close())) })
  return proxies
}

async function watchers (t: { after: (fn: () => Promise<void>) => void }, proxies: FreezableProxy[], n: number): Promise<Watcher[]> {
  const list = await Promise.all(Array.from({ length: n }, async (_, i) => await new Watcher(proxies[i % proxies.length].url, USERS[i % USERS.length]).start()))
  t.after(async () => { await Promise.all(list.map(async w => await w.client.close())) })
  return list
}

/** Publishes `perSource` ticks from each source, cycling over the targets, paced so they span the test. */
async function flow (sources: Array<{ name: string, send: (target: string, data: unknown) => Promise<void> }>, perSource: number, pauseMs: number): Promise<Map<string, Array<{ src: string, seq: number }>>> {
  const sent = new Map<string, Array<{ src: string, seq: number }>>(TARGETS.map(t => [t, []]))
  await Promise.all(sources.map(async ({ name, send }, s) => {
    for (let i = 0; i < perSource; i++) {
      const target = TARGETS[(i + s) % TARGETS.length]
      const seq = sent.get(target)!.filter(e => e.src === name).length
      await send(target, { src: name, seq })
      sent.get(target)!.push({ src: name, seq })
      await sleep(pauseMs)
    }
  }))
  return sent
}

const viaWorker = { name: 'worker', send: async (target: string, data: unknown) => { await publisher.publish({ target, event: 'tick', data }) } }
const viaHttp = (gw: GatewayProcess, name: string): { name: string, send: (target: string, data: unknown) => Promise<void> } => ({
  name,
  send: async (target, data) => {
    const res = await publishHttp(gw, { target, event: 'tick', data })
    assert.equal(res.status, 200, await res.text())
  }
})

/** Stream ids compared as numbers: the order Redis gave the events. */
function before_ (a: string, b: string): boolean {
  const [am, as] = a.split('-').map(BigInt)
  const [bm, bs] = b.split('-').map(BigInt)
  return am < bm || (am === bm && as < bs)
}

/** Every client got every event of its targets exactly once, in the order of its target's history. */
async function assertExactlyOnce (list: Watcher[], sent: Map<string, Array<{ src: string, seq: number }>>): Promise<void> {
  const expected = (w: Watcher): number => w.targets().reduce((n, t) => n + sent.get(t)!.length, 0)
  const deadline = Date.now() + 20000
  while (Date.now() < deadline && list.some(w => w.count() < expected(w))) await sleep(100)
  for (const w of list) {
    for (const target of w.targets()) {
      const got = w.got.get(target) ?? []
      const keys = got.map(e => `${e.src}#${e.seq}`)
      assert.equal(new Set(keys).size, keys.length, `${w.user} ${target}: no event twice`)
      assert.deepEqual(new Set(keys), new Set(sent.get(target)!.map(e => `${e.src}#${e.seq}`)), `${w.user} ${target}: every event`)
      for (let i = 1; i < got.length; i++) {
        assert.ok(got[i].epoch === got[0].epoch && before_(got[i - 1].offset, got[i].offset), `${w.user} ${target}: in order at ${i}`)
      }
    }
  }
}

test('links dropped for 2 s five times while 2,000 events flow from a worker and /api/publish on two nodes: every event exactly once, in order', async (t) => {
  const [a, b] = cluster.gateways
  const proxies = await proxied(t, [a.port, b.port], [b.port, a.port])
  const list = await watchers(t, proxies, 10)
  const cuts = (async () => {
    for (let i = 0; i < 5; i++) {
      // every client back (its auth and joins answered, three targets reported) before the next cut
      await until(() => list.every(w => w.reports.length >= 3 * i), 10000, `every client back after cut ${i}`)
      await sleep(500)
      for (const p of proxies) p.cut(2000)
      await sleep(2000)
    }
  })()
  const sent = await flow([viaWorker, viaHttp(a, 'http-a'), viaHttp(b, 'http-b')], 667, 15)
  await cuts
  assert.equal([...sent.values()].reduce((n, l) => n + l.length, 0), 2001)
  await until(() => list.every(w => w.reports.length >= 15), 10000, 'every client back after the last cut')
  await assertExactlyOnce(list, sent)
  for (const w of list) {
    assert.equal(w.reports.length, 15, `${w.user}: reconnected five times (${w.reports.length} reports)`)
    assert.deepEqual(w.reports.filter(r => !r.recovered), [], 'every target recovered')
  }
  assert.ok(proxies.every(p => p.flows >= 30), 'every client reconnected after each cut')
})

test('a call in flight across a dropped link, with an idempotency key, runs once in the worker and is answered once', async (t) => {
  const [a] = cluster.gateways
  const proxy = await startProxy(a.port)
  t.after(async () => await proxy.close())
  const client = new IpcClient({ url: proxy.url, token: token({ sub: 'payer' }), reconnect: fast })
  t.after(async () => await client.close())
  await client.connect()
  let answers = 0
  const call = client.call<{ key: string, n: number }>('res.once', { ms: 1500, tag: 'pay' }, { idempotencyKey: true, timeoutMs: 10000 }).then(r => { answers++; return r })
  await sleep(300)
  proxy.cut(2000)
  const result = await call
  await sleep(200)
  assert.equal(answers, 1)
  assert.equal(result.n, 1)
  const runs = await client.call<Record<string, number>>('res.runs', {})
  assert.equal(runs[`idem:${result.key}`], 1, 'the worker ran it once')
  assert.ok(proxy.flows >= 2, 'sent again on a new connection')
})

test('a gateway node SIGKILLed under load: its clients reconnect to the other node and recover every event', async (t) => {
  const [a, b] = cluster.gateways
  // Both proxies prefer node A, and fall back to B once A is gone (a load balancer's health check).
  const proxies = await proxied(t, [a.port, b.port], [a.port, b.port])
  const list = await watchers(t, proxies, 10)
  const kill = (async () => {
    await sleep(1500)
    await a.kill('SIGKILL')
  })()
  const sent = await flow([viaWorker, viaHttp(b, 'http-b')], 300, 10)
  await kill
  await assertExactlyOnce(list, sent)
  for (const w of list) {
    assert.ok(w.reports.length >= 3, `${w.user}: reconnected`)
    assert.deepEqual(w.reports.filter(r => !r.recovered), [], 'every target recovered')
  }
})

test('Redis flushed while the clients are away: recovered: false for every target, and never a wrong replay', async (t) => {
  const b = cluster.gateways[1] // node A was killed above
  const proxies = await proxied(t, [b.port], [b.port])
  const list = await watchers(t, proxies, 4)
  const before = await flow([viaHttp(b, 'before')], 28, 2)
  await sleep(300)
  const raw = new Redis(cluster.redis.url)
  t.after(() => raw.disconnect())
  for (const p of proxies) p.cut(1500)
  await raw.flushall()
  const during = await flow([viaHttp(b, 'during')], 14, 2)
  for (const w of list) {
    const deadline = Date.now() + 10000
    while (w.reports.length < 3 && Date.now() < deadline) await sleep(50)
    assert.deepEqual(w.reports.map(r => r.recovered), [false, false, false], `${w.user}: told it missed events`)
  }
  const afterFlush = await flow([viaHttp(b, 'after')], 14, 2)
  await sleep(500)
  for (const w of list) {
    for (const target of w.targets()) {
      const got = w.got.get(target) ?? []
      const keys = got.map(e => `${e.src}#${e.seq}`)
      assert.equal(new Set(keys).size, keys.length, `${w.user} ${target}: no event twice`)
      assert.deepEqual(got.filter(e => e.src === 'during'), [], `${w.user} ${target}: nothing replayed from a history that was lost`)
      assert.deepEqual(got.filter(e => e.src === 'before').map(e => e.seq), before.get(target)!.map(e => e.seq))
      assert.deepEqual(got.filter(e => e.src === 'after').map(e => e.seq), afterFlush.get(target)!.map(e => e.seq), `${w.user} ${target}: continues after`)
    }
  }
  assert.ok(during.size > 0)
})
