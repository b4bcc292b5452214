// Interceptors (docs/protocol.md §3): app.ipc.use around local and remote calls, worker.use around a
// Node worker's handlers; a real Redis, a real gateway, a real worker.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { RpcError as GatewayRpcError, type IpcCall } from '../../src/index.js'
import { RpcError, Worker, type WorkerCall } from '../../src/worker/index.js'
import { startRedis, type TestRedis } from '../helpers/redis.js'
import { startGateway, TestClient, token, type TestGateway } from '../helper.js'
import { memoryLogger } from '../worker/fake-gateway.js'

let redis: TestRedis
let worker: Worker
let gw: TestGateway
let client: TestClient
const seen: IpcCall[] = []
const order: string[] = []
const workerSeen: WorkerCall[] = []

before(async () => {
  redis = await startRedis()
  worker = new Worker({ redis: redis.url, service: 'calc', logger: memoryLogger() })
    .use(async (call, next) => {
      workerSeen.push(call)
      if (call.method === 'calc.secret' && !call.ctx.caller.roles.includes('admin')) throw new RpcError(-32003, 'admins only (worker)')
      if (call.method === 'calc.crash') throw new Error('interceptor bug')
      order.push('w1 in')
      const out = await next()
      order.push('w1 out')
      return out
    })
    .use(async (call, next) => {
      order.push('w2 in')
      const out = await next() as { sum: number }
      order.push('w2 out')
      return call.method === 'calc.add' ? { ...out, via: 'w2' } : out
    })
    .method('calc.add', {}, ({ a, b }: { a: number, b: number }) => { order.push('handler'); return { sum: a + b } })
    .method('calc.secret', {}, () => 'the secret')
    .method('calc.crash', {}, () => 'never')
  await worker.start()
  gw = await startGateway({ redis: redis.url }, app => {
    app.ipc.method('local.echo', {}, (params) => { order.push('local handler'); return params })
    app.ipc.method('local.fail', {}, () => { throw new Error('handler bug') })
    app.ipc.use(async (call, next) => {
      seen.push(call)
      order.push(`a in ${call.method}`)
      if (call.method === 'local.echo' && (call.params as { deny?: boolean }).deny === true) throw new GatewayRpcError(-32003, 'denied by an interceptor')
      if (call.method === 'local.echo' && (call.params as { plain?: boolean }).plain === true) throw new Error('a plain error')
      await next() // returns nothing: the answer is next()'s
      order.push(`a out ${call.method}`)
    })
    app.ipc.use(async (call, next) => {
      order.push(`b in ${call.method}`)
      if (call.method === 'local.echo' && (call.params as { cached?: boolean }).cached === true) return { from: 'cache' }
      const out = await next()
      order.push(`b out ${call.method}`)
      return out
    })
  })
  client = await TestClient.connect(gw.url, { token: token({ sub: '7', roles: ['user'] }) })
})

after(async () => {
  await client.close()
  await gw.close()
  await worker.stop()
  await redis.stop()
})

describe('app.ipc.use', () => {
  test('sees a local call, in registration order around the handler', async () => {
    order.length = 0
    const res = await client.call('local.echo', { x: 1 })
    assert.deepEqual(res.result, { x: 1 })
    assert.deepEqual(order, ['a in local.echo', 'b in local.echo', 'local handler', 'b out local.echo', 'a out local.echo'])
    const call = seen.at(-1)!
    assert.equal(call.remote, false)
    assert.deepEqual(call.params, { x: 1 })
    assert.equal(call.identity?.userId, '7')
    assert.equal(call.caller.userId, '7')
    assert.equal(call.connectionId, call.caller.connectionId)
    assert.ok(call.deadline > Date.now())
  })

  test('sees a remote call, params mapped by name, remote: true', async () => {
    order.length = 0
    const res = await client.call('calc.add', { a: 2, b: 3 })
    assert.deepEqual(res.result, { sum: 5, via: 'w2' })
    const call = seen.at(-1)!
    assert.equal(call.method, 'calc.add')
    assert.equal(call.remote, true)
    assert.deepEqual(order.filter(s => s.startsWith('a ') || s.startsWith('b ')), ['a in calc.add', 'b in calc.add', 'b out calc.add', 'a out calc.add'])
  })

  test('may reject with an RpcError (its code reaches the client) or any error (-32603)', async () => {
    const denied = await client.call('local.echo', { deny: true })
    assert.deepEqual(denied.error, { code: -32003, message: 'denied by an interceptor' })
    const plain = await client.call('local.echo', { plain: true })
    assert.deepEqual(plain.error, { code: -32603, message: 'Internal error' })
    const failing = await client.call('local.fail', {})
    assert.deepEqual(failing.error, { code: -32603, message: 'Internal error' }, 'a handler error passes through the chain unchanged')
  })

  test('may answer without calling next', async () => {
    order.length = 0
    assert.deepEqual((await client.call('local.echo', { cached: true })).result, { from: 'cache' })
    assert.ok(!order.includes('local handler'))
  })

  test('built-ins and calls refused before the call are not intercepted', async () => {
    const before = seen.length
    await client.call('rpc.ping')
    await client.call('nope.missing', {})
    assert.equal(seen.length, before)
  })
})

describe('worker.use', () => {
  test('wraps a Node worker\'s handler in registration order; may change the answer', async () => {
    order.length = 0
    await client.call('calc.add', { a: 1, b: 1 })
    assert.deepEqual(order.filter(s => s.startsWith('w') || s === 'handler'), ['w1 in', 'w2 in', 'handler', 'w2 out', 'w1 out'])
    const call = workerSeen.at(-1)!
    assert.equal(call.method, 'calc.add')
    assert.deepEqual(call.params, { a: 1, b: 1 })
    assert.equal(call.ctx.caller.userId, '7')
  })

  test('may reject: an RpcError keeps its code, anything else is -32603', async () => {
    assert.deepEqual((await client.call('calc.secret', {})).error, { code: -32003, message: 'admins only (worker)' })
    assert.deepEqual((await client.call('calc.crash', {})).error, { code: -32603, message: 'Internal error' })
    const admin = await TestClient.connect(gw.url, { token: token({ sub: '1', roles: ['admin'] }) })
    try {
      assert.equal((await admin.call('calc.secret', {})).result, 'the secret')
    } finally {
      await admin.close()
    }
  })

  test('use() takes a function, before start()', () => {
    assert.throws(() => new Worker({ redis: redis.url, service: 'x' }).use('nope' as never), /use\(\) takes a function/)
    assert.throws(() => worker.use(async (_c, next) => await next()), /after start\(\)/)
    assert.throws(() => gw.app.ipc.use(42 as never), /use\(\) takes a function/)
  })
})
