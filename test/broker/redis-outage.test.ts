// Redis goes away during traffic and comes back: the gateway fails fast, says so on /ready and
// /metrics, keeps its sockets, and resumes by itself.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { Writable } from 'node:stream'
import Fastify from 'fastify'
import { Redis } from 'ioredis'
import fastifyIpc from '../../src/index.js'
import { API_KEY, SECRET, startGateway, TestClient, token } from '../helper.js'
import { startRedis } from '../helpers/redis.js'
import { WorkerDouble } from './worker-double.js'

async function until (what: string, check: () => Promise<boolean>, ms = 10000): Promise<void> {
  const end = Date.now() + ms
  while (!await check().catch(() => false)) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await sleep(50)
  }
}

test('Redis stopped during traffic: fast -32050, /ready 503; restarted: everything resumes without a restart', async (t) => {
  const redis = await startRedis()
  // closed last to first, Redis itself at the very end (a client closed while Redis is down lingers)
  const cleanup: Array<() => unknown> = []
  t.after(async () => {
    for (const close of cleanup.reverse()) await close()
    await redis.stop()
  })
  const raw = new Redis(redis.url, { maxRetriesPerRequest: 0, retryStrategy: () => 100 })
  raw.on('error', () => {})
  cleanup.push(() => raw.disconnect())
  const worker = new WorkerDouble(redis.url, 'calc')
  cleanup.push(() => worker.close())
  const methods = { 'calc.echo': { params: { type: 'object' }, timeoutMs: 5000 } }
  await worker.register(methods)
  worker.serve(async req => {
    if (req.params.slow === true) await sleep(2000)
    return { result: req.params }
  })
  const gw = await startGateway({ redis: redis.url, nodeId: 'outage', presenceTtlMs: 900 })
  cleanup.push(() => gw.close())
  const client = await TestClient.connect(gw.url, { auth: token({ sub: 'steady', rooms: ['*'] }) })
  cleanup.push(() => client.close())
  const metric = async (name: string): Promise<string | undefined> =>
    new RegExp(`^${name} (\\S+)$`, 'm').exec(await (await fetch(`${gw.http}/metrics`)).text())?.[1]

  assert.deepEqual((await client.call('calc.echo', { n: 1 })).result, { n: 1 })
  assert.equal((await fetch(`${gw.http}/ready`)).status, 200)

  // calls in flight when Redis goes away are answered at once, not at their deadline
  const inFlight = Array.from({ length: 5 }, (_, i) => client.call('calc.echo', { slow: true, i }))
  await sleep(100)
  await redis.stop()
  const stoppedAt = performance.now()
  for (const res of await Promise.all(inFlight)) assert.equal(res.error?.code, -32050)
  assert.ok(performance.now() - stoppedAt < 1000, 'in-flight calls failed fast')

  for (let i = 0; i < 20; i++) {
    const started = performance.now()
    const res = await client.call('calc.echo', { n: i })
    assert.equal(res.error?.code, -32050)
    assert.ok(performance.now() - started < 100, 'fails fast, no wait on Redis')
  }
  const ready = await fetch(`${gw.http}/ready`)
  assert.equal(ready.status, 503)
  assert.equal((await ready.json() as { checks: { broker: string } }).checks.broker, 'down')
  assert.equal(await metric('ipc_broker_up'), '0')
  assert.equal(await metric('ipc_redis_breaker_open'), '1')
  await assert.rejects(gw.app.ipc.publish({ target: 'all', event: 'x' }), { code: -32050 })
  const post = await fetch(`${gw.http}/api/publish`, {
    method: 'POST',
    headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ target: 'all', event: 'x' })
  })
  assert.ok(post.status >= 500, `POST /api/publish answers ${post.status}`)
  // presence degrades to what this node knows; joining still works
  assert.deepEqual((await client.call('rpc.join', { room: 'while-down' })).result, { room: 'while-down' })
  assert.deepEqual((await client.call('rpc.presence', { users: ['steady', 'other'] })).result, { online: { steady: true, other: false } })
  assert.deepEqual((await client.call('rpc.presence', { room: 'while-down' })).result.users, ['steady'])
  assert.equal((await client.call('rpc.ping', {})).result !== undefined, true, 'the socket is still open')

  // back, empty (no persistence): the worker registers again, as a real one does when it reconnects
  await redis.start()
  await until('/ready 200', async () => (await fetch(`${gw.http}/ready`)).status === 200)
  assert.equal(await metric('ipc_broker_up'), '1')
  await worker.register(methods)
  await until('calls succeed again', async () => (await client.call('calc.echo', { n: 'again' })).result?.n === 'again')

  // presence re-registered by the node itself, rooms joined during the outage included
  await until('presence re-registered', async () => await raw.zscore('ipc:presence:online', 'steady') !== null)
  assert.ok(await raw.zscore('ipc:presence:room:while-down', `steady|${(await client.call('rpc.auth', { token: token({ sub: 'steady', rooms: ['*'] }) })).result.connectionId}`) !== null)
  // events flow again
  // events flow again (the node subscribes to its targets' channels again once its link is back)
  await until('events flow again', async () => {
    await raw.spublish('ipc:ev:{user:steady}', '{"event":"back"}\n{}')
    return await client.event('back', 200).then(() => true, () => false)
  })
})

test('a node started while Redis is down starts unready and resumes when Redis comes', async (t) => {
  const redis = await startRedis()
  await redis.stop()
  const cleanup: Array<() => unknown> = []
  t.after(async () => {
    for (const close of cleanup.reverse()) await close()
    await redis.stop()
  })
  const gw = await startGateway({ redis: redis.url })
  cleanup.push(() => gw.close())
  assert.equal((await fetch(`${gw.http}/ready`)).status, 503)
  const client = await TestClient.connect(gw.url, { auth: token({ sub: 'early' }) })
  cleanup.push(() => client.close())
  assert.equal((await client.call('late.op', {})).error?.code, -32601, 'no catalog yet')

  await redis.start()
  await until('/ready 200', async () => (await fetch(`${gw.http}/ready`)).status === 200)
  const worker = new WorkerDouble(redis.url, 'late')
  cleanup.push(() => worker.close())
  await worker.register({ 'late.op': {} })
  worker.serve(() => ({ result: 'here' }))
  await until('the call succeeds', async () => (await client.call('late.op', {})).result === 'here')
})

test('a node that cannot reach Redis says why (a wrong password), once', async (t) => {
  const redis = await startRedis(['--requirepass', 'the-right-one'])
  t.after(async () => await redis.stop())
  const lines: Array<{ msg: string, reason?: string }> = []
  const stream = new Writable({ write (chunk: Buffer, _enc, done) { lines.push(JSON.parse(chunk.toString())); done() } })
  const app = Fastify({ logger: { level: 'warn', stream } })
  t.after(async () => await app.close())
  await app.register(fastifyIpc, { jwt: { secret: SECRET }, redis: `redis://:a-wrong-one@127.0.0.1:${redis.port}` })
  await app.ready()
  await sleep(500) // retries go on meanwhile
  const said = lines.filter(l => l.msg.startsWith('Redis unreachable'))
  assert.equal(said.length, 1, JSON.stringify(lines))
  assert.match(said[0].reason ?? '', /^WRONGPASS/)
})
