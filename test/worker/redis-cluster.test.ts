// The Worker SDK and a gateway on a real Redis Cluster of three masters: the keys of docs/protocol.md
// §9 live on different nodes (with three masters the request stream, the reply list and the
// worker set each land on another). The gateway reaches it from one node's URL (`redisCluster`), the
// worker through a Cluster client of its own, and `fastify-ipc serve` / `worker` with REDIS_CLUSTER.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { type Cluster, Redis } from 'ioredis'
import Type from 'typebox'
import { startCluster, type TestCluster } from '../helpers/redis-cluster.js'
import { startGateway, TestClient, token, type TestGateway } from '../helper.js'
import { killAll, methodListed, startGatewayProcess, startWorkerProcess } from '../helpers/processes.js'
import { WORKER_MODULE } from '../cluster/cluster.js'
import { Publisher, Worker } from '../../src/worker/index.js'
import { clusterFromUrl } from '../../src/broker/cluster-url.js'
import { duplicate } from '../../src/broker/redis-link.js'
import { memoryLogger, until } from './fake-gateway.js'

let cluster: TestCluster
let gw: TestGateway
let worker: Worker
const log = memoryLogger()
let client: TestClient
const clients: Cluster[] = []

before(async () => {
  cluster = await startCluster()
  const redis = (): Cluster => { const c = cluster.client(); clients.push(c); return c }
  gw = await startGateway({ redis: `redis://127.0.0.1:${cluster.nodes[0].port}`, redisCluster: true, nodeId: 'c1', publicRooms: ['lobby'], presenceEventRooms: ['lobby'] })
  worker = new Worker({ redis: redis(), service: 'calc', logger: log })
    .method('calc.add', { params: Type.Object({ a: Type.Number(), b: Type.Number() }) }, ({ a, b }) => ({ sum: a + b }))
    .method('calc.count', { params: Type.Object({ to: Type.Integer() }) }, async ({ to }, ctx) => {
      for (let i = 1; i <= to; i++) ctx.progress({ i })
      return { done: true }
    })
    .method('calc.tell', {}, async (_params, ctx) => {
      await ctx.publish.toUser(ctx.caller.userId, 'calc.told', { hello: ctx.caller.userId })
      return { told: true }
    })
  await worker.start()
  client = await TestClient.connect(gw.url, { token: token({ sub: 'u1' }) })
  // the gateway learns the worker's methods from the catalog news (PUBLISH, which a Cluster carries to every node)
  await until(async () => (await client.call('calc.add', { a: 0, b: 0 })).result !== undefined, 10000, 'the worker\'s methods at the gateway')
})

after(async () => {
  await client?.close()
  await worker?.stop()
  await gw?.close()
  await Promise.all(clients.map(async c => await c.quit().catch(() => c.disconnect())))
  await cluster?.stop()
})

test('calls are answered, and their requests acked', async () => {
  const frames = await Promise.all(Array.from({ length: 20 }, async (_, i) => await client.call('calc.add', { a: i, b: 1 })))
  assert.deepEqual(frames.map(f => f.result), Array.from({ length: 20 }, (_, i) => ({ sum: i + 1 })))
  const redis = cluster.client()
  clients.push(redis)
  // the acks follow each reply's transaction
  await until(async () => (await redis.xpending('ipc:rpc:calc', 'workers') as [number])[0] === 0, 5000, 'no request pending')
})

test('progress comes before the result', async () => {
  const id = 'count-1'
  const progress = Promise.all([1, 2, 3].map(async () => await client.next(f => f.method === 'rpc.progress' && f.params.id === id)))
  const final = await client.call('calc.count', { to: 3 }, id)
  assert.deepEqual(final.result, { done: true })
  assert.equal((await progress).length, 3)
})

test('an event published by a handler reaches the caller', async () => {
  const event = client.event('calc.told')
  assert.deepEqual((await client.call('calc.tell', {})).result, { told: true })
  assert.deepEqual((await event).params.data, { hello: 'u1' })
})

test('control and presence events: a publisher subscribes a user, presence.join follows, a revocation closes it', async (t) => {
  const redis = cluster.client()
  clients.push(redis) // borrowed by the publisher: quit with the others
  const publisher = new Publisher({ redis })
  const before = token({ sub: 'u9' }) // issued before the revocation: a later one would pass
  const c = await TestClient.connect(gw.url, { token: before })
  t.after(async () => await c.close())
  await publisher.subscribe({ userId: 'u9', room: 'lobby' })
  await until(async () => (await c.call('rpc.presence', { room: 'lobby' })).error === undefined, 5000, 'u9 in the lobby')
  assert.deepEqual((await c.next(f => f.params?.event === 'presence.join')).params.data, { room: 'lobby', userId: 'u9' })
  await publisher.revoke({ userId: 'u9' })
  assert.deepEqual(await c.closed, { code: 4003, reason: 'token revoked' })
  await assert.rejects(TestClient.connect(gw.url, { token: before }), /HTTP 401/)
})

test('rooms and presence', async () => {
  assert.deepEqual((await client.call('rpc.join', { room: 'lobby' })).result, { room: 'lobby' })
  const { result } = await client.call('rpc.presence', { room: 'lobby' })
  assert.deepEqual([result.count, result.users], [1, ['u1']])
})

test('fastify-ipc serve and fastify-ipc worker with REDIS_CLUSTER=true', async (t) => {
  // node 1's URL: the worker set and the method catalog of service `cli` live on the other two
  const env = { REDIS_URL: `redis://127.0.0.1:${cluster.nodes[1].port}`, REDIS_CLUSTER: 'true' }
  const gateway = await startGatewayProcess({ ...env, IPC_NODE_ID: 'c2' })
  t.after(async () => await killAll([gateway]))
  const cli = await startWorkerProcess(WORKER_MODULE, { ...env, IPC_WORKER_SERVICE: 'cli' })
  t.after(async () => await killAll([cli]))
  await methodListed([gateway], 'cli.echo')
  const c = await TestClient.connect(gateway.url, { token: token({ sub: 'u2' }) })
  t.after(async () => await c.close())
  const { result } = await c.call('cli.echo', { n: 3, tag: 'x' })
  assert.deepEqual([result.square, result.user, result.node], [9, 'u2', 'c2'])
})

test('a node\'s URL gives every node of the cluster its credentials and TLS, and so do the gateway\'s duplicates', () => {
  const c = clusterFromUrl('rediss://app:p%40ss@10.0.0.7:7001', { lazyConnect: true })
  const d = duplicate(c, 'reader') as Cluster
  for (const { redisOptions } of [c.options, d.options]) {
    assert.deepEqual([redisOptions?.username, redisOptions?.password, redisOptions?.tls], ['app', 'p@ss', {}])
  }
  // a blocking reader's queued reads are answered one by one, not as one pipeline
  assert.equal(d.options.enableAutoPipelining, false)
  c.disconnect()
  d.disconnect()
})

test('redisCluster without a URL is refused at start', async () => {
  await assert.rejects(startGateway({ redis: { port: cluster.nodes[0].port }, redisCluster: true }), /"redisCluster" needs "redis" as the redis:\/\/ URL/)
})

/** How often the cluster's nodes have run `command`. */
async function calls (command: string): Promise<number> {
  let n = 0
  for (const node of cluster.nodes) {
    const r = new Redis(node.port, node.host)
    n += Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(await r.info('commandstats'))?.[1] ?? 0)
    r.disconnect()
  }
  return n
}

test('stop() ends the blocked read and leaves the worker set', async () => {
  await until(async () => await calls('xautoclaim') > 0, 5000, 'a claim scan (every second)')
  await worker.stop()
  const redis = cluster.client()
  clients.push(redis)
  assert.equal(await redis.zscore('ipc:workers:calc', worker.id), null)
  // every command found its node: heartbeats, claim scans (run every second), acks, the stop
  assert.deepEqual(log.lines.filter(l => l.level === 'warn' || l.level === 'error'), [])
})
