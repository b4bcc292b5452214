// Hooks served by a worker (docs/protocol.md §5) and the lifecycle stream (§9): a real Redis, a real
// gateway (the plugin in a Fastify app), a real Node worker answering the hook methods.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import { RpcError, Worker, type Caller } from '../../src/worker/index.js'
import { startRedis, type TestRedis } from '../helpers/redis.js'
import { gatewayOf, startGateway, TestClient, token, type TestGateway } from '../helper.js'
import { memoryLogger } from '../worker/fake-gateway.js'

let redis: TestRedis
let reader: Redis
let worker: Worker
let gw: TestGateway
let lenient: TestGateway
const connects: Caller[] = []
const disconnects: Array<{ caller: Caller, rooms: string[] }> = []

const hooks = { joinMethod: 'auth.can_join', connectMethod: 'auth.connected', disconnectMethod: 'auth.disconnected', hookTimeoutMs: 300 }

before(async () => {
  redis = await startRedis()
  reader = new Redis(redis.url)
  // the backend's own group, made before anything happens, reads every record from then on
  await reader.xgroup('CREATE', 'ipc:lifecycle', 'backend', '$', 'MKSTREAM')
  worker = new Worker({ redis: redis.url, service: 'auth', logger: memoryLogger() })
    .method('auth.can_join', {}, async ({ room }: { room: string }, ctx) => {
      if (room === 'vip:slow') await sleep(1000)
      if (room === 'vip:broken') throw new Error('database down')
      if (room === 'vip:refused') throw new RpcError(-32003, 'banned from this room')
      return room === 'vip:ok' || room === 'vip:slow' || (room === 'vip:mine' && ctx.caller.userId === '7')
    })
    .method('auth.connected', {}, (_params, ctx) => {
      connects.push(ctx.caller)
      return ctx.caller.userId !== 'banned'
    })
    .method('auth.disconnected', {}, ({ rooms }: { rooms: string[] }, ctx) => { disconnects.push({ caller: ctx.caller, rooms }) })
  await worker.start()
  gw = await startGateway({ redis: redis.url, ...hooks, lifecycleStream: true })
  lenient = await startGateway({ redis: redis.url, joinMethod: 'auth.can_join', hookTimeoutMs: 300, joinHookFailure: 'allow' })
})

after(async () => {
  await gw.close()
  await lenient.close()
  await worker.stop()
  reader.disconnect()
  await redis.stop()
})

const until = async (check: () => boolean, what: string): Promise<void> => {
  const end = Date.now() + 5000
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await sleep(20)
  }
}

/** A user's lifecycle records, read with the backend's consumer group until their disconnect record. */
async function lifecycleOf (userId: string): Promise<Array<Record<string, string>>> {
  const records: Array<Record<string, string>> = []
  const end = Date.now() + 5000
  while (!records.some(r => r.userId === userId && r.type === 'disconnect') && Date.now() < end) {
    const out = await reader.xreadgroup('GROUP', 'backend', 'b1', 'COUNT', 100, 'BLOCK', 200, 'STREAMS', 'ipc:lifecycle', '>') as Array<[string, Array<[string, string[]]>]> | null
    for (const [id, fields] of out?.[0][1] ?? []) {
      const record: Record<string, string> = {}
      for (let i = 0; i < fields.length; i += 2) record[fields[i]] = fields[i + 1]
      records.push(record)
      await reader.xack('ipc:lifecycle', 'backend', id)
    }
  }
  return records.filter(r => r.userId === userId)
}

describe('joinMethod', () => {
  test('the worker allows, denies (false or -32003), and a failure or no answer in time denies', async (t) => {
    const client = await TestClient.connect(gw.url, { token: token({ sub: '7' }) })
    t.after(() => client.close())
    assert.deepEqual((await client.call('rpc.join', ['vip:ok'])).result, { room: 'vip:ok' })
    assert.deepEqual((await client.call('rpc.join', ['vip:mine'])).result, { room: 'vip:mine' })
    for (const room of ['vip:no', 'vip:refused', 'vip:broken', 'vip:slow']) {
      const res = await client.call('rpc.join', [room])
      assert.equal(res.error?.code, -32003, room)
      assert.match(res.error!.message, /Not allowed to join room/)
    }
    const other = await TestClient.connect(gw.url, { token: token({ sub: '8' }) })
    t.after(() => other.close())
    assert.equal((await other.call('rpc.join', ['vip:mine'])).error?.code, -32003, 'the caller reaches the worker')
  })

  test('with joinHookFailure "allow" a hook that answers too late allows; an explicit no still denies', async (t) => {
    const client = await TestClient.connect(lenient.url, { token: token({ sub: '7' }) })
    t.after(() => client.close())
    assert.deepEqual((await client.call('rpc.join', ['vip:slow'])).result, { room: 'vip:slow' })
    assert.deepEqual((await client.call('rpc.join', ['vip:broken'])).result, { room: 'vip:broken' })
    assert.equal((await client.call('rpc.join', ['vip:no'])).error?.code, -32003)
    assert.equal((await client.call('rpc.join', ['vip:refused'])).error?.code, -32003)
  })

  test('the hook methods are not for clients: -32601, and not in rpc.discover', async (t) => {
    const client = await TestClient.connect(gw.url, { token: token({ sub: '7' }) })
    t.after(() => client.close())
    const res = await client.call('auth.can_join', { room: 'vip:ok' })
    assert.equal(res.error?.code, -32601)
    const doc = (await client.call('rpc.discover')).result
    assert.deepEqual(doc.methods.map((m: { name: string }) => m.name).filter((n: string) => n.startsWith('auth.')), [])
  })
})

describe('connectMethod and disconnectMethod', () => {
  test('the worker hears of a connection and of its end, with the caller and the rooms it was in', async () => {
    const client = await TestClient.connect(gw.url, { auth: token({ sub: 'ada' }) })
    const { result } = await client.call('rpc.join', ['vip:ok'])
    assert.ok(result)
    const id = gw.app.ipc.nodeId
    await until(() => connects.some(c => c.userId === 'ada'), 'the connect hook')
    const mine = connects.find(c => c.userId === 'ada')!
    assert.equal(mine.node, id)
    await client.close()
    await until(() => disconnects.some(d => d.caller.userId === 'ada'), 'the disconnect hook')
    const gone = disconnects.find(d => d.caller.userId === 'ada')!
    assert.equal(gone.caller.connectionId, mine.connectionId)
    assert.deepEqual(gone.rooms, ['vip:ok'])
  })

  test('a connection the worker refuses is closed with 1008, by header or by rpc.auth', async () => {
    const byHeader = await TestClient.connect(gw.url, { token: token({ sub: 'banned' }) })
    assert.deepEqual(await byHeader.closed, { code: 1008, reason: 'refused by the backend' })
    const byAuth = await TestClient.connect(gw.url, { auth: token({ sub: 'banned' }) })
    assert.deepEqual(await byAuth.closed, { code: 1008, reason: 'refused by the backend' })
  })
})

describe('lifecycle stream', () => {
  test('connect, join, leave and disconnect records, read with a consumer group', async () => {
    const client = await TestClient.connect(gw.url, { auth: token({ sub: 'lin' }) })
    await client.call('rpc.join', ['vip:ok'])
    await client.call('rpc.leave', ['vip:ok'])
    await client.call('rpc.join', ['vip:ok'])
    assert.equal((await client.call('rpc.join', ['vip:no'])).error?.code, -32003)
    await client.close()
    const lin = await lifecycleOf('lin')
    assert.deepEqual(lin.map(r => [r.type, r.room ?? r.rooms ?? null]), [
      ['connect', null], ['join', 'vip:ok'], ['leave', 'vip:ok'], ['join', 'vip:ok'], ['disconnect', '["vip:ok"]']
    ])
    const connectionId = lin[0].connectionId
    assert.ok(lin.every(r => r.connectionId === connectionId && r.node === gw.app.ipc.nodeId && /^\d+$/.test(r.time)))
    // a refused join leaves no record
    assert.ok(!lin.some(r => r.room === 'vip:no'))
  })

  test('a server-side subscribe and unsubscribe are recorded too', async () => {
    const client = await TestClient.connect(gw.url, { auth: token({ sub: 'sam' }) })
    const conn = [...gatewayOf(gw.app).connections.values()].find(c => c.identity?.userId === 'sam')!
    // commands reach the node on the control channel, in order: wait for each to be applied
    await gw.app.ipc.subscribe({ userId: 'sam', room: 'desk' })
    await until(() => conn.rooms.has('desk'), 'the subscription')
    await gw.app.ipc.unsubscribe({ userId: 'sam', room: 'desk' })
    await until(() => !conn.rooms.has('desk'), 'the unsubscription')
    await gw.app.ipc.unsubscribe({ userId: 'sam', room: 'desk' }) // not a member any more: no record
    await sleep(100)
    await client.close()
    assert.deepEqual((await lifecycleOf('sam')).map(r => [r.type, r.room ?? r.rooms ?? null]), [
      ['connect', null], ['join', 'desk'], ['leave', 'desk'], ['disconnect', '[]']
    ])
  })
})
