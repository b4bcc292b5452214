// The gateway and the Worker SDK behind Redis Sentinel: a master, its replica and a Sentinel, all real
// redis-servers, fresh for each test. Both sides are given the Sentinel's address and the master's name
// (ioredis asks the Sentinel where the master is); then the replica is promoted, by hand or because
// the master crashed: calls, events and presence go on with the new master, and a call caught by the
// switch is answered -32050, never left hanging.
import { readFile } from 'node:fs/promises'
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { Redis } from 'ioredis'
import Type from 'typebox'
import { MASTER_NAME, startSentinel, type TestSentinel } from '../helpers/redis-sentinel.js'
import { startGateway, TestClient, token } from '../helper.js'
import { killAll, methodListed, startGatewayProcess, startWorkerProcess } from '../helpers/processes.js'
import { WORKER_MODULE } from '../cluster/cluster.js'
import { Worker } from '../../src/worker/index.js'
import { workerOptionsFromEnv } from '../../src/worker/run.js'
import { memoryLogger, until } from './fake-gateway.js'

/** the gateway's connections, and the worker's blocking one */
const CONNECTIONS = ['fastify-ipc:s1', 'fastify-ipc:s1:catalog', 'fastify-ipc:s1:events', 'fastify-ipc:s1:replies', 'fastify-ipc:worker:calc-1:reads']

interface Group { setup: TestSentinel, client: TestClient, http: string, log: ReturnType<typeof memoryLogger> }

/** Registers what to stop after the test: the last made is stopped first (Redis after its clients). */
function stopper (t: TestContext): (stop: () => Promise<unknown>) => void {
  const stops: Array<() => Promise<unknown>> = []
  t.after(async () => { for (const stop of stops.reverse()) await stop() })
  return stop => { stops.push(stop) }
}

/** A Sentinel group with a gateway, a worker and a connected client on it, stopped after the test. */
async function group (t: TestContext): Promise<Group> {
  const cleanup = stopper(t)
  const setup = await startSentinel()
  cleanup(async () => await setup.stop())
  const redis = { sentinels: setup.sentinels, name: MASTER_NAME }
  const gw = await startGateway({ redis, nodeId: 's1', publicRooms: ['lobby'] })
  cleanup(async () => await gw.close())
  const log = memoryLogger()
  const worker = new Worker({ redis, service: 'calc', id: 'calc-1', logger: log })
    .method('calc.add', { params: Type.Object({ a: Type.Number(), b: Type.Number() }) }, ({ a, b }) => ({ sum: a + b }))
    .method('calc.tell', {}, async (_params, ctx) => {
      await ctx.publish.toUser(ctx.caller.userId, 'calc.told', { hello: ctx.caller.userId })
      return { told: true }
    })
  await worker.start()
  cleanup(async () => await worker.stop())
  const client = await TestClient.connect(gw.url, { token: token({ sub: 'u1' }) })
  cleanup(async () => await client.close())
  await until(async () => (await client.call('calc.add', { a: 0, b: 0 })).result !== undefined, 10000, 'the worker\'s methods at the gateway')
  return { setup, client, http: gw.http, log }
}

test('calls, events and presence through the master the Sentinel names', async (t) => {
  const g = await group(t)
  await everythingWorks(g.client)
  assert.deepEqual(await namedConnections(await g.setup.master()), CONNECTIONS)
})

test('a failover: the gateway and the worker go on with the new master', async (t) => {
  await through(await group(t), async setup => await setup.failover())
})

test('the master crashes: once the Sentinel has promoted the replica, everything goes on', async (t) => {
  await through(await group(t), async setup => await setup.crash())
})

/** Calls going on while `change` moves the master; then everything works on the new one. */
async function through ({ setup, client, http, log }: Group, change: (setup: TestSentinel) => Promise<void>): Promise<void> {
  const before = await setup.master()
  let running = true
  let n = 0
  const failures = new Set<string>()
  const traffic = (async () => {
    while (running) {
      // each call is answered (TestClient.call gives up after 5 s): a result, or an error said as such
      const f = await client.call('calc.add', { a: n, b: 1 })
      if (f.error !== undefined) failures.add(`${f.error.code} ${f.error.message}`)
      else assert.deepEqual(f.result, { sum: n + 1 })
      n++
      await new Promise(resolve => setTimeout(resolve, 5))
    }
  })()
  await change(setup)
  const now = await setup.master()
  assert.notEqual(now, before)
  // the gateway and the worker find the new master by themselves
  await until(async () => (await client.call('calc.add', { a: 40, b: 2 })).result?.sum === 42, 15000, 'calls answered after the switch')
  running = false
  await traffic
  // while no master could be reached, and said so: not "no live worker", not a timeout
  assert.deepEqual([...failures].filter(f => !/^-32050 Unavailable: (Redis is unreachable|could not count the live workers)/.test(f)), [])
  // each connection moves by itself: once all have, everything works
  await until(async () => (await namedConnections(now)).length === CONNECTIONS.length, 5000, 'the connections on the new master')
  assert.deepEqual(await namedConnections(now), CONNECTIONS)
  await until(async () => (await fetch(`${http}/ready`)).status === 200, 5000, 'the gateway ready')
  await everythingWorks(client)
  assert.deepEqual(log.lines.filter(l => l.level === 'error'), [])
}

async function everythingWorks (client: TestClient): Promise<void> {
  const add = await client.call('calc.add', { a: 1, b: 2 })
  assert.deepEqual(add.result, { sum: 3 }, JSON.stringify(add))
  const event = client.event('calc.told')
  assert.deepEqual((await client.call('calc.tell', {})).result, { told: true })
  assert.deepEqual((await event).params.data, { hello: 'u1' })
  assert.deepEqual((await client.call('rpc.join', { room: 'lobby' })).result, { room: 'lobby' })
  const { result } = await client.call('rpc.presence', { room: 'lobby' })
  assert.deepEqual([result.count, result.users], [1, ['u1']])
}

/** The names of our connections to the server on `port`. */
async function namedConnections (port: number): Promise<string[]> {
  const r = new Redis(port, '127.0.0.1')
  try {
    const list = await r.client('LIST') as string
    return [...list.matchAll(/ name=(fastify-ipc:\S*)/g)].map(m => m[1]).sort()
  } finally {
    r.disconnect()
  }
}

/** The Sentinel's address and the master's name, as the environment gives them. */
const addresses = (setup: TestSentinel): Record<string, string> =>
  ({ REDIS_SENTINELS: setup.sentinels.map(s => `${s.host}:${s.port}`).join(','), REDIS_SENTINEL_NAME: MASTER_NAME })

/**
 * `fastify-ipc serve` and `fastify-ipc worker` (service `cli`) given the Sentinel setup by the
 * environment alone (REDIS_SENTINELS and REDIS_SENTINEL_NAME, and `env`), and a client of the gateway.
 */
async function fromEnvironment (cleanup: ReturnType<typeof stopper>, setup: TestSentinel, env: Record<string, string>, nodeId: string): Promise<TestClient> {
  const all = { ...addresses(setup), ...env }
  const gateway = await startGatewayProcess({ ...all, IPC_NODE_ID: nodeId })
  cleanup(async () => await killAll([gateway]))
  const cli = await startWorkerProcess(WORKER_MODULE, { ...all, IPC_WORKER_SERVICE: 'cli' })
  cleanup(async () => await killAll([cli]))
  await methodListed([gateway], 'cli.echo')
  const c = await TestClient.connect(gateway.url, { token: token({ sub: nodeId }) })
  cleanup(async () => await c.close())
  return c
}

test('fastify-ipc serve and fastify-ipc worker with REDIS_SENTINELS, and passwords on both the servers and the Sentinel', async (t) => {
  const cleanup = stopper(t)
  const setup = await startSentinel({ password: 'master-secret', sentinelPassword: 'sentinel-secret' })
  cleanup(async () => await setup.stop())
  const env = { REDIS_PASSWORD: 'master-secret', REDIS_SENTINEL_PASSWORD: 'sentinel-secret' }
  assert.deepEqual(workerOptionsFromEnv({ ...addresses(setup), ...env, IPC_WORKER_SERVICE: 'cli' }).redis, { sentinels: setup.sentinels, name: MASTER_NAME, password: 'master-secret', sentinelPassword: 'sentinel-secret' })
  const c = await fromEnvironment(cleanup, setup, env, 's2')
  assert.deepEqual((await c.call('cli.echo', { n: 3, tag: 'x' })).result.square, 9)
  await setup.failover()
  await until(async () => (await c.call('cli.echo', { n: 4, tag: 'y' })).result?.square === 16, 15000, 'calls answered after the failover')
})

test('REDIS_TLS, REDIS_SENTINEL_TLS, REDIS_USERNAME and REDIS_DB: serve and worker over TLS, as an ACL user, in database 3', async (t) => {
  const cleanup = stopper(t)
  const setup = await startSentinel({ username: 'app', password: 'app-secret', sentinelPassword: 'sentinel-secret', tls: true })
  cleanup(async () => await setup.stop())
  const c = await fromEnvironment(cleanup, setup, {
    REDIS_USERNAME: 'app',
    REDIS_PASSWORD: 'app-secret',
    REDIS_DB: '3',
    REDIS_TLS: 'true',
    REDIS_SENTINEL_PASSWORD: 'sentinel-secret',
    REDIS_SENTINEL_TLS: 'true',
    // the servers' certificates are signed by the test's own CA
    NODE_EXTRA_CA_CERTS: setup.ca!
  }, 's3')
  assert.deepEqual((await c.call('cli.echo', { n: 5, tag: 'tls' })).result.square, 25)

  // everything is in database 3 of the master, over TLS, as the ACL user; nothing in database 0
  const master = new Redis(await setup.master(), '127.0.0.1', { username: 'app', password: 'app-secret', tls: { ca: await readFile(setup.ca!) } })
  cleanup(async () => master.disconnect())
  assert.ok(await master.select(3) === 'OK' && await master.exists('ipc:rpc:cli', 'ipc:methods:cli') === 2)
  await master.select(0)
  assert.deepEqual(await master.keys('ipc:*'), [])
})
