// Remote calls through a real Redis, with the worker side played by raw commands (docs/protocol.md §9).
import { after, before, test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import Fastify from 'fastify'
import fastifyRedis from '@fastify/redis'
import fastifyIpc, { type FastifyIpcOptions } from '../../src/index.js'
import { SECRET, startGateway, TestClient, type TestGateway, token } from '../helper.js'
import { startRedis, type TestRedis } from '../helpers/redis.js'
import { type WireRequest, WorkerDouble } from './worker-double.js'

let redis: TestRedis
let raw: Redis

before(async () => {
  redis = await startRedis()
  raw = new Redis(redis.url)
})
after(async () => {
  raw.disconnect()
  await redis.stop()
})

const addSpec = {
  params: { type: 'object', properties: { a: { type: 'number' }, b: { type: 'number' } }, required: ['a', 'b'], additionalProperties: false },
  result: { type: 'object', properties: { sum: { type: 'number' } } },
  description: 'adds two numbers',
  timeoutMs: 5000
}

async function until (what: string, check: () => Promise<boolean> | boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms
  while (!await check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await sleep(20)
  }
}

interface RigOptions {
  /** the Redis (redis.url) */
  url?: string
  gateway?: FastifyIpcOptions
  /** the client's token claims ({ sub: '1' }) */
  claims?: Record<string, unknown>
  /** how far ahead the double's heartbeat expires (15000; negative: already expired) */
  ttlMs?: number
}

/**
 * A worker double of `service` with `methods` published, then a gateway and a client authenticated
 * with rpc.auth; all closed after the test.
 */
async function rig (t: TestContext, service: string, methods: Record<string, object>, { url = redis.url, gateway = {}, claims = { sub: '1' }, ttlMs }: RigOptions = {}): Promise<{ worker: WorkerDouble, gw: TestGateway, client: TestClient }> {
  const worker = new WorkerDouble(url, service)
  t.after(() => worker.close())
  await worker.register(methods, ttlMs)
  const gw = await startGateway({ redis: url, ...gateway })
  t.after(() => gw.close())
  const client = await TestClient.connect(gw.url, { auth: token(claims) })
  t.after(() => client.close())
  return { worker, gw, client }
}

test('a remote call: params checked at the gateway, the exact request fields, the answer matched by id', async (t) => {
  const { worker, client } = await rig(t, 'math', { 'math.add': addSpec }, { gateway: { nodeId: 'rpc-1' }, claims: { sub: '42', roles: ['admin'] } })

  const bad = await client.call('math.add', { a: 'x' })
  assert.equal(bad.error?.code, -32602)
  assert.ok(Array.isArray(bad.error?.data?.errors))
  assert.equal(await raw.xlen('ipc:rpc:math'), 0, 'nothing reached the stream')

  worker.serve(req => ({ result: { sum: req.params.a + req.params.b } }))
  const before = Date.now()
  assert.deepEqual((await client.call('math.add', { a: 1, b: 2 })).result, { sum: 3 })

  const [[, fields]] = await raw.xrange('ipc:rpc:math', '-', '+')
  const names = fields.filter((_, i) => i % 2 === 0)
  assert.deepEqual(names, ['v', 'id', 'method', 'params', 'caller', 'reply', 'deadline'])
  const f = Object.fromEntries(names.map((n, i) => [n, fields[2 * i + 1]]))
  assert.equal(f.v, '1')
  assert.match(f.id, /^rpc-1:/)
  assert.equal(f.method, 'math.add')
  assert.deepEqual(JSON.parse(f.params), { a: 1, b: 2 })
  const caller = JSON.parse(f.caller)
  assert.deepEqual(Object.keys(caller).sort(), ['claims', 'connectionId', 'node', 'roles', 'userId'])
  assert.equal(caller.userId, '42')
  assert.equal(caller.node, 'rpc-1')
  assert.deepEqual(caller.roles, ['admin'])
  assert.equal(f.reply, 'ipc:reply:rpc-1')
  assert.ok(Number(f.deadline) >= before + 5000 && Number(f.deadline) <= Date.now() + 5000)

  // many calls at once: every answer is the caller's own
  const calls = Array.from({ length: 60 }, (_, i) => client.call('math.add', { a: i, b: 1000 }))
  const answers = await Promise.all(calls)
  answers.forEach((res, i) => assert.deepEqual(res.result, { sum: i + 1000 }))
  await until('the reply list drained', async () => await raw.exists('ipc:reply:rpc-1') === 0)
  // Redis 7 has BLMPOP: one command per wake-up, never BLPOP + LPOP
  if (Number(/redis_version:(\d+)/.exec(await raw.info('server'))![1]) >= 7) {
    const stats = await raw.info('commandstats')
    assert.match(stats, /cmdstat_blmpop:calls=[1-9]/)
    assert.doesNotMatch(stats, /cmdstat_blpop:/)
  }
})

test('non-ASCII params and user ids reach the worker byte for byte (the gateway writes the XADD itself)', async (t) => {
  const { worker, client } = await rig(t, 'text', { 'text.echo': {} }, { claims: { sub: 'zoë-🚀' } })
  worker.serve(req => ({ result: { params: req.params, userId: JSON.parse(req.fields.caller).userId } }))
  const params = { text: 'café ü 日本 🚀', nested: { quote: '"\r\n$3\r\n' }, empty: '' }
  const res = await client.call('text.echo', params)
  assert.deepEqual(res.result, { params, userId: 'zoë-🚀' })
})

test('Redis 6.2 (no BLMPOP): replies are read with BLPOP and LPOP count, none lost', async (t) => {
  const old = await startRedis(['--rename-command', 'BLMPOP', ''])
  t.after(() => old.stop())
  const { worker, client } = await rig(t, 'math', { 'math.add': addSpec }, { url: old.url, gateway: { nodeId: 'rpc-old' }, claims: { sub: '7' } })
  worker.serve(req => ({ result: { sum: req.params.a + req.params.b } }))
  for (let round = 0; round < 4; round++) { // 50 at a time: the default limit is 64 in flight per connection
    const answers = await Promise.all(Array.from({ length: 50 }, async (_, i) => await client.call('math.add', { a: i, b: round })))
    answers.forEach((res, i) => assert.deepEqual(res.result, { sum: i + round }))
  }
  const probe = new Redis(old.url)
  t.after(() => probe.disconnect())
  const stats = await probe.info('commandstats')
  assert.doesNotMatch(stats, /cmdstat_blmpop:calls=[1-9]/, 'BLMPOP is not there to call')
  assert.match(stats, /cmdstat_blpop:calls=[1-9]/)
})

test('BLMPOPs wait queued on the reply connection; when it drops, the replies of calls in flight still arrive', async (t) => {
  const { worker, client } = await rig(t, 'math', { 'math.add': addSpec }, { gateway: { nodeId: 'rpc-queue' }, claims: { sub: '8' } })
  const replyConn = async (): Promise<string | undefined> => (await raw.client('LIST') as string).split('\n').find(l => l.includes(' name=fastify-ipc:rpc-queue:replies '))
  // blocked on one (flags=b), the next ones unread in its query buffer
  await until('BLMPOPs queued', async () => /flags=b .*qbuf=[1-9]\d* .*cmd=blmpop/.test(await replyConn() ?? ''))

  const calls = Array.from({ length: 20 }, async (_, i) => await client.call('math.add', { a: i, b: 1 }))
  const held: WireRequest[] = []
  while (held.length < calls.length) held.push(...await worker.take(100, 2000))
  await raw.client('KILL', 'ID', /\bid=(\d+)/.exec((await replyConn())!)![1])
  for (const req of held) await worker.answer(req, { result: { sum: req.params.a + req.params.b } })
  const answers = await Promise.all(calls)
  answers.forEach((res, i) => assert.deepEqual(res.result, { sum: i + 1 }))
  // and the reconnected connection queues again
  worker.serve(req => ({ result: { sum: req.params.a + req.params.b } }))
  assert.deepEqual((await client.call('math.add', { a: 2, b: 3 })).result, { sum: 5 })
  await until('BLMPOPs queued again', async () => /flags=b .*qbuf=[1-9]\d* .*cmd=blmpop/.test(await replyConn() ?? ''))
})

test('worker errors pass through; progress frames are forwarded before the answer', async (t) => {
  const { worker, client } = await rig(t, 'jobs', { 'jobs.run': { params: { type: 'object' } }, 'jobs.fail': {} }, { claims: { sub: '7' } })
  worker.serve(async req => {
    if (req.method === 'jobs.fail') return { error: { code: 4004, message: 'no such job', data: { job: 1 } } }
    await worker.answer(req, { progress: { pct: 50 } })
    await worker.answer(req, { progress: { pct: 90 } })
    return { result: { done: true } }
  })

  const res = await client.call('jobs.run', {}, 'job-1')
  assert.deepEqual(res.result, { done: true })
  const p1 = await client.next(f => f.method === 'rpc.progress')
  const p2 = await client.next(f => f.method === 'rpc.progress')
  assert.deepEqual([p1.params, p2.params], [{ id: 'job-1', data: { pct: 50 } }, { id: 'job-1', data: { pct: 90 } }])
  assert.deepEqual((await client.call('jobs.fail', {})).error, { code: 4004, message: 'no such job', data: { job: 1 } })
})

test('methods published at run time show in rpc.discover and /openrpc.json; invalid specs are skipped', async (t) => {
  const gw = await startGateway({ redis: redis.url })
  t.after(() => gw.close())
  const client = await TestClient.connect(gw.url, { auth: token({ sub: '1' }) })
  t.after(() => client.close())
  const discover = async (): Promise<string[]> => (await client.call('rpc.discover', {})).result.methods.map((m: { name: string }) => m.name)
  assert.ok(!(await discover()).includes('shop.buy'))

  const worker = new WorkerDouble(redis.url, 'shop')
  t.after(() => worker.close())
  await worker.redis.hset('ipc:methods:shop', 'shop.bad', '{"timeoutMs":"soon"}', 'shop.broken', 'not json', 'other.misfiled', '{}')
  await worker.register({ 'shop.buy': { ...addSpec, description: 'buys' } })
  await until('shop.buy in rpc.discover', async () => (await discover()).includes('shop.buy'))
  const names = await discover()
  assert.ok(!names.includes('shop.bad') && !names.includes('shop.broken') && !names.includes('other.misfiled'))
  const doc = await (await fetch(`${gw.http}/openrpc.json`)).json() as { methods: Array<{ name: string, description?: string }> }
  assert.equal(doc.methods.find(m => m.name === 'shop.buy')?.description, 'buys')

  await worker.redis.hdel('ipc:methods:shop', 'shop.buy')
  await worker.redis.publish('ipc:catalog', 'shop')
  await until('shop.buy withdrawn', async () => !(await discover()).includes('shop.buy'))
})

test('no live worker: -32050 at once, without touching the stream', async (t) => {
  const { client } = await rig(t, 'idle', { 'idle.work': {} }, { ttlMs: -1000 }) // its heartbeat has already expired
  const started = performance.now()
  const res = await client.call('idle.work', {})
  assert.equal(res.error?.code, -32050)
  assert.ok(performance.now() - started < 250, 'answered fast')
  assert.equal(await raw.xlen('ipc:rpc:idle'), 0)
})

test('a failed count of live workers is said as such, and not remembered', async (t) => {
  const { worker, client } = await rig(t, 'typed', { 'typed.op': {} })
  await raw.del('ipc:workers:typed')
  await raw.set('ipc:workers:typed', 'not a sorted set')
  const res = await client.call('typed.op', {})
  assert.equal(res.error?.code, -32050)
  assert.match(res.error!.message, /^Unavailable: could not count the live workers of "typed" \(WRONGTYPE/)
  await raw.del('ipc:workers:typed')
  await worker.heartbeat()
  worker.serve(() => ({ result: 'done' }))
  // at once: no "no live worker" was cached for the failed count
  assert.equal((await client.call('typed.op', {})).result, 'done')
})

test('deadline: -32008 when the worker is too slow; its late reply is dropped', async (t) => {
  const { worker, gw, client } = await rig(t, 'slow', { 'slow.op': { timeoutMs: 300 } }, { gateway: { nodeId: 'slow-node' } })

  const started = performance.now()
  const call = client.call('slow.op', {}, 'late')
  const [req] = await worker.take(1, 2000)
  const res = await call
  const took = performance.now() - started
  assert.equal(res.error?.code, -32008)
  assert.ok(took >= 250 && took < 1500, `deadline after ${took} ms`)

  await worker.answer(req, { result: 'too late' })
  await worker.answer(req, { result: 'and again' })
  await until('the late replies drained', async () => await raw.exists('ipc:reply:slow-node') === 0)
  await until('counted as dropped', async () => /ipc_redis_replies_dropped_total 2/.test(await (await fetch(`${gw.http}/metrics`)).text()))
  assert.equal(client.frames.length, 0, 'nothing reached the client')
  // the connection is fine: a call answered in time still works
  worker.serve(() => ({ result: 'ok' }))
  assert.equal((await client.call('slow.op', {})).result, 'ok')
})

test('a reply finds its call by the slot in its id: ids naming another call, or nothing, are dropped', async (t) => {
  const { worker, gw, client } = await rig(t, 'slots', { 'slots.op': { timeoutMs: 5000 } }, { gateway: { nodeId: 'slot.node' } })

  const calls = [client.call('slots.op', {}, 'a'), client.call('slots.op', {}, 'b')]
  const reqs = await worker.take(2, 2000)
  if (reqs.length < 2) reqs.push(...await worker.take(1, 2000))
  const [a, b] = reqs.sort((x, y) => x.id < y.id ? -1 : 1)
  assert.match(a.id, /^slot\.node:[0-9a-z]+\.\d+\.\d+$/, 'node, start time, slot and sequence')
  // the same slot with another sequence, a slot out of range, and ids with no slot at all
  const end = a.id.lastIndexOf('.')
  const forged = [a.id.slice(0, end) + '.999999', a.id.slice(0, a.id.lastIndexOf('.', end - 1)) + '.77.' + a.id.slice(end + 1), 'x', '', '..', a.id + '.1', '1e3.5']
  for (const id of forged) await worker.answer({ ...a, id }, { result: 'forged' })
  await until('the forged replies drained', async () => await raw.exists(a.reply) === 0)
  await until('counted as dropped', async () => new RegExp(`ipc_redis_replies_dropped_total ${forged.length}\\b`).test(await (await fetch(`${gw.http}/metrics`)).text()))
  assert.equal(client.frames.length, 0, 'no call was answered by a forged id')

  await worker.answer(b, { result: 'b' })
  await worker.answer(a, { result: 'a' })
  assert.deepEqual((await Promise.all(calls)).map(r => r.result), ['a', 'b'])
})

test('the request stream stays bounded and a reply list outlives no node by more than 60 s', async (t) => {
  const stream = 'ipc:rpc:bulk'
  for (let i = 0; i < 11; i++) {
    const p = raw.pipeline()
    for (let j = 0; j < 10000; j++) p.xadd(stream, '*', 'v', '1')
    await p.exec()
  }
  const worker = new WorkerDouble(redis.url, 'bulk')
  t.after(() => worker.close())
  await worker.register({ 'bulk.op': { timeoutMs: 200 } })
  const gw = await startGateway({ redis: redis.url, nodeId: 'gone' })
  const client = await TestClient.connect(gw.url, { auth: token({ sub: '1' }) })
  assert.equal((await client.call('bulk.op', {})).error?.code, -32008)
  const len = await raw.xlen(stream)
  assert.ok(len >= 100000 && len <= 100100, `stream trimmed to ~100000, not ${len}`)
  await client.close()
  await gw.close()

  // the node is gone; the worker answers anyway: the list expires by itself
  const last = await raw.xrevrange(stream, '+', '-', 'COUNT', 1)
  const f = last[0][1]
  const field = (n: string): string => f[f.indexOf(n) + 1]
  await worker.answer({ entry: last[0][0], fields: {}, id: field('id'), method: field('method'), params: {}, reply: field('reply'), deadline: 0 }, { result: 1 })
  const ttl = await raw.pttl('ipc:reply:gone')
  assert.ok(ttl > 0 && ttl <= 60000, `reply list TTL ${ttl}`)
})

test('metrics: stream length and pending per service, reply wait, breaker state', async (t) => {
  const { worker, gw, client } = await rig(t, 'metered', { 'metered.op': {} })
  worker.serve(() => ({ result: true }))
  assert.equal((await client.call('metered.op', {})).result, true)
  // the double acks after it replied (three commands, one after the other): the answer can come first
  let text = ''
  await until('the request acked', async () => /ipc_redis_stream_pending\{service="metered"\} 0/.test(text = await (await fetch(`${gw.http}/metrics`)).text()))
  assert.match(text, /ipc_redis_stream_length\{service="metered"\} 1/)
  assert.match(text, /ipc_redis_stream_pending\{service="metered"\} 0/)
  assert.match(text, /ipc_redis_reply_wait_seconds_count 1/)
  assert.match(text, /ipc_redis_breaker_open 0/)
  assert.match(text, /ipc_broker_up 1/)
  assert.match(text, /ipc_redis_events_read_total 0/)
})

test('the host app\'s @fastify/redis client is used as the command connection and left open on close', async (t) => {
  const worker = new WorkerDouble(redis.url, 'borrowed')
  t.after(() => worker.close())
  await worker.register({ 'borrowed.op': {} })
  worker.serve(() => ({ result: 'ok' }))
  const host = Fastify({ logger: false })
  await host.register(fastifyRedis, { url: redis.url })
  await host.register(fastifyIpc, { jwt: { secret: SECRET }, redis: host.redis })
  await host.listen({ port: 0, host: '127.0.0.1' })
  const { port } = host.server.address() as { port: number }
  const client = await TestClient.connect(`ws://127.0.0.1:${port}/ws`, { auth: token({ sub: '1' }) })
  assert.equal((await client.call('borrowed.op', {})).result, 'ok')
  await client.close()
  // Only the host's own onClose (@fastify/redis) may end its client: fastify-ipc just lets go of it.
  const borrowed = host.redis
  const calls: string[] = []
  for (const name of ['quit', 'disconnect'] as const) {
    const original = borrowed[name].bind(borrowed) as (...args: unknown[]) => unknown
    ;(borrowed as unknown as Record<string, unknown>)[name] = (...args: unknown[]) => { calls.push(name); return original(...args) }
  }
  await host.close()
  assert.deepEqual(calls, ['quit'])
})
