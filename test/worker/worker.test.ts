// The Worker against a real Redis, with the test playing the gateway (docs/protocol.md §9).
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { Redis } from 'ioredis'
import Type from 'typebox'
import { startRedis, type TestRedis } from '../helpers/redis.js'
import { RpcError, Worker, type WorkerOptions } from '../../src/worker/index.js'
import { caller, FakeGateway, memoryLogger, sleep, until } from './fake-gateway.js'

let redis: TestRedis
let gw: FakeGateway
const workers: Worker[] = []

before(async () => {
  redis = await startRedis()
  gw = new FakeGateway(redis.url)
})
after(async () => {
  await Promise.all(workers.map(async w => await w.stop()))
  await gw.close()
  await redis.stop()
})

function worker (options: Omit<WorkerOptions, 'redis'> & { redis?: WorkerOptions['redis'] }): Worker {
  const w = new Worker({ redis: redis.url, logger: memoryLogger(), ...options })
  workers.push(w)
  return w
}

const AddParams = Type.Object({ a: Type.Number(), b: Type.Number() })

describe('answers', () => {
  const log = memoryLogger()
  let w: Worker
  before(async () => {
    w = worker({ service: 'math', concurrency: 4, logger: log })
      .method('math.add', { params: AddParams, result: Type.Object({ sum: Type.Number() }) }, ({ a, b }) => ({ sum: a + b }))
      .method('math.fail', {}, () => { throw new RpcError(4001, 'Nope', { why: 'because' }) })
      .method('math.shaped', {}, () => { throw Object.assign(new Error('Conflict'), { name: 'RpcError', code: 409, data: { left: 1 } }) })
      .method('math.db', {}, () => { throw Object.assign(new Error('E11000 duplicate key in users'), { code: 11000 }) })
      .method('math.boom', {}, () => { throw new Error('secret detail') })
      .method('math.nothing', {}, () => undefined)
      .method('math.echo', {}, (params, ctx) => ({ params, user: ctx.caller.userId }))
      .method('math.count', { params: Type.Object({ to: Type.Integer() }) }, async ({ to }, ctx) => {
        for (let i = 1; i <= to; i++) ctx.progress({ i })
        ctx.progress(undefined)
        return { done: true }
      })
      // taken apart, as handlers often do: every part works outside the context object
      .method('math.context', {}, async (_params, { caller, requestId, deadline, progress, signal, publish, log }) => {
        progress('half')
        log.info('context taken apart')
        return { userId: caller.userId, requestId, deadline, aborted: signal.aborted, publish: typeof publish.toUser }
      })
    await w.start()
  })

  test('a result', async () => {
    const { final } = await gw.call('math', 'math.add', { a: 2, b: 3 })
    assert.deepEqual(final, { id: final.id, result: { sum: 5 } })
  })

  test('an RpcError passes through with its code, message and data', async () => {
    const { final } = await gw.call('math', 'math.fail', {})
    assert.deepEqual(final.error, { code: 4001, message: 'Nope', data: { why: 'because' } })
  })

  test('an RpcError of another copy of the package passes through too', async () => {
    const { final } = await gw.call('math', 'math.shaped', {})
    assert.deepEqual(final.error, { code: 409, message: 'Conflict', data: { left: 1 } })
  })

  test('another error with a numeric code (a database\'s) is -32603: its message may hold internals', async () => {
    const { final } = await gw.call('math', 'math.db', {})
    assert.deepEqual(final.error, { code: -32603, message: 'Internal error' })
  })

  test('anything else is -32603 with no stack, and is logged', async () => {
    const { final } = await gw.call('math', 'math.boom', {})
    assert.deepEqual(final.error, { code: -32603, message: 'Internal error' })
    assert.ok(!JSON.stringify(final).includes('secret'))
    assert.ok(log.lines.some(l => l.level === 'error' && (l.obj as { err?: Error }).err?.message === 'secret detail'))
  })

  test('an undefined result is sent as null', async () => {
    const { final } = await gw.call('math', 'math.nothing', {})
    assert.equal(final.result, null)
    assert.ok('result' in final)
  })

  test('params are validated again: -32602 with the errors', async () => {
    const { final } = await gw.call('math', 'math.add', { a: 'x' })
    assert.equal(final.error?.code, -32602)
    assert.ok(Array.isArray((final.error?.data as { errors: unknown[] }).errors))
  })

  // The worker reads requests as bytes and decodes only the values (src/worker/redis.ts textEntries).
  test('text outside ASCII, and fields the protocol does not name, arrive intact', async () => {
    const params = { text: 'héllo ✓ 日本語 🚀', n: 1 }
    const id = await gw.send('math', 'math.echo', params, { fields: { ix: 'same length as id', 'mé': 'ü' } })
    const [{ final }] = await gw.wait([id])
    assert.deepEqual(final.result, { params, user: '42' })
  })

  test('the context can be taken apart: caller, id, deadline, progress, signal, publish, log', async () => {
    const { final, progress } = await gw.call('math', 'math.context', {})
    assert.deepEqual(progress, ['half'])
    const result = final.result as { userId: string, requestId: string, deadline: number, aborted: boolean, publish: string }
    assert.deepEqual({ ...result, deadline: result.deadline > Date.now() }, { userId: caller.userId, requestId: final.id, deadline: true, aborted: false, publish: 'function' })
  })

  test('an unknown method is -32601', async () => {
    const { final } = await gw.call('math', 'math.nope', {})
    assert.equal(final.error?.code, -32601)
  })

  test('a request in another protocol version is -32600', async () => {
    const id = await gw.send('math', 'math.add', { a: 1, b: 1 }, { fields: { v: '2' } })
    const [{ final }] = await gw.wait([id])
    assert.equal(final.error?.code, -32600)
  })

  test('a request missing a field, or with a deadline that is not a number, is -32600', async () => {
    const broken: Array<Record<string, string>> = [{ method: '' }, { deadline: 'soon' }, { deadline: '-1' }]
    const ids = await Promise.all(broken.map(async fields =>
      await gw.send('math', 'math.add', { a: 1, b: 1 }, { fields })))
    for (const { final } of await gw.wait(ids)) assert.deepEqual(final.error, { code: -32600, message: 'Invalid request: malformed request' })
  })

  // The caller is parsed when a handler reads it: a handler that never does is not failed by it.
  test('a caller that is not JSON is -32600 for a handler that reads it, and no matter to one that does not', async () => {
    const [reads, ignores] = await Promise.all([
      gw.send('math', 'math.echo', {}, { fields: { caller: '{"userId":' } }),
      gw.send('math', 'math.add', { a: 1, b: 2 }, { fields: { caller: '{"userId":' } })
    ])
    const [a, b] = await gw.wait([reads, ignores])
    assert.deepEqual(a.final.error, { code: -32600, message: 'Invalid request: caller is not JSON' })
    assert.deepEqual(b.final.result, { sum: 3 })
  })

  test('progress frames come before the final reply, in order (undefined as null)', async () => {
    const { final, progress } = await gw.call('math', 'math.count', { to: 5 })
    assert.deepEqual(progress, [...[1, 2, 3, 4, 5].map(i => ({ i })), null])
    assert.deepEqual(final.result, { done: true })
  })

  test('the reply list expires within 60 s, and the request is acked', async () => {
    const id = await gw.send('math', 'math.add', { a: 1, b: 1 })
    await until(async () => await gw.redis.llen(gw.replyKey) > 0, 5000, 'a reply')
    const ttl = await gw.redis.pttl(gw.replyKey)
    assert.ok(ttl > 50000 && ttl <= 60000, `pttl ${ttl}`)
    await gw.wait([id])
    await until(async () => (await gw.redis.xpending('ipc:rpc:math', 'workers') as [number])[0] === 0, 5000, 'no pending request')
  })
})

describe('start and stop', () => {
  test('start publishes the catalog (hash + PUBLISH) and heartbeats; stop leaves the worker set', async () => {
    const sub = new Redis(redis.url)
    const news: string[] = []
    sub.on('message', (_channel: string, message: string) => news.push(message))
    await sub.subscribe('ipc:catalog')
    const w = worker({ service: 'shop', id: 'shop-1' })
      .method('shop.buy', { params: Type.Object({ sku: Type.String() }), description: 'Buys', timeoutMs: 3000, access: 'service', roles: ['admin'] }, () => ({}))
      .method('shop.list', {}, () => [])
    const before = Date.now()
    await w.start()
    await until(() => news.includes('shop'), 5000, 'the catalog message')
    const catalog = await gw.redis.hgetall('ipc:methods:shop')
    assert.deepEqual(Object.keys(catalog).sort(), ['shop.buy', 'shop.list'])
    assert.deepEqual(JSON.parse(catalog['shop.buy']), {
      params: { type: 'object', required: ['sku'], properties: { sku: { type: 'string' } } },
      description: 'Buys',
      timeoutMs: 3000,
      access: 'service',
      roles: ['admin']
    })
    assert.deepEqual(JSON.parse(catalog['shop.list']), { access: 'user' })
    const groups = await gw.redis.xinfo('GROUPS', 'ipc:rpc:shop') as unknown[][]
    assert.equal(groups[0][1], 'workers')
    const score = Number(await gw.redis.zscore('ipc:workers:shop', 'shop-1'))
    assert.ok(score >= before + 15000 && score <= Date.now() + 15000, `score ${score}`)
    await w.stop()
    assert.equal(await gw.redis.zscore('ipc:workers:shop', 'shop-1'), null)
    await sub.quit()
  })

  test('a client passed in is used and left open', async () => {
    const client = new Redis(redis.url)
    const w = worker({ service: 'own', redis: client }).method('own.ping', {}, () => 'pong')
    await w.start()
    assert.equal((await gw.call('own', 'own.ping', {})).final.result, 'pong')
    await w.stop()
    assert.equal(await client.ping(), 'PONG')
    await client.quit()
  })

  test('stop() lets a running handler finish and answer, and leaves nothing pending', async () => {
    let started = false
    const w = worker({ service: 'slow' }).method('slow.job', {}, async () => {
      started = true
      await sleep(500)
      return 'finished'
    })
    await w.start()
    const id = await gw.send('slow', 'slow.job', {})
    await until(() => started, 5000, 'the handler to start')
    const t0 = Date.now()
    await w.stop()
    assert.ok(Date.now() - t0 < 2000, `stop took ${Date.now() - t0} ms`)
    const [{ final }] = await gw.wait([id])
    assert.equal(final.result, 'finished')
    assert.equal((await gw.redis.xpending('ipc:rpc:slow', 'workers') as [number])[0], 0)
    assert.equal(await gw.redis.zcard('ipc:workers:slow'), 0)
  })

  test('method names must belong to the service', () => {
    const w = new Worker({ redis: redis.url, service: 'a' })
    assert.throws(() => w.method('b.x', {}, () => 1), /not in service "a"/)
    assert.throws(() => w.method('a', {}, () => 1), /not in service "a"/)
    assert.throws(() => w.method('rpc.x', {}, () => 1), /reserved|not in service/)
    assert.doesNotThrow(() => w.method('a.x', {}, () => 1))
    const d = new Worker({ redis: redis.url, service: 'default' })
    assert.doesNotThrow(() => d.method('ping', {}, () => 1))
    assert.throws(() => d.method('x.ping', {}, () => 1), /not in service "default"/)
    assert.throws(() => new Worker({ redis: redis.url, service: 'a.b' }), /invalid service/)
    assert.throws(() => new Worker({ redis: redis.url, service: 'a', concurrency: 0 }), /concurrency/)
  })
})

describe('scheduling', () => {
  test('never more than `concurrency` handlers at once', async () => {
    let running = 0
    let most = 0
    const w = worker({ service: 'busy', concurrency: 3 }).method('busy.work', { params: Type.Object({ n: Type.Integer() }) }, async ({ n }) => {
      most = Math.max(most, ++running)
      await sleep(50)
      running--
      return n
    })
    await w.start()
    const ids = await Promise.all(Array.from({ length: 15 }, async (_, n) => await gw.send('busy', 'busy.work', { n })))
    const answers = await gw.wait(ids)
    assert.deepEqual(answers.map(a => a.final.result), Array.from({ length: 15 }, (_, n) => n))
    assert.equal(most, 3)
  })

  test('a request past its deadline is acked and dropped without running', async () => {
    let calls = 0
    const w = worker({ service: 'late' }).method('late.job', {}, () => ++calls)
    await w.start()
    const id = await gw.send('late', 'late.job', {}, { deadline: Date.now() - 1 })
    await until(async () => {
      const [group] = await gw.redis.xinfo('GROUPS', 'ipc:rpc:late') as Array<Array<string | number>>
      const info = Object.fromEntries(group.reduce<Array<[string, unknown]>>((acc, v, i, arr) => i % 2 === 0 ? [...acc, [String(v), arr[i + 1]]] : acc, []))
      return info['entries-read'] === 1 && info.pending === 0
    }, 5000, 'the request to be read and acked')
    // A request sent after it is answered, so the late one was not just slow.
    assert.equal((await gw.call('late', 'late.job', {})).final.result, 1)
    assert.equal(calls, 1)
    assert.equal((await gw.wait([id], 500).catch(() => null)), null)
  })

  test('a reply Redis refuses (its key is not a list) is logged; the batch\'s other replies arrive, every request is acked', async () => {
    const log = memoryLogger()
    const w = worker({ service: 'wrong', logger: log }).method('wrong.job', {}, () => 'done')
    await gw.redis.set('ipc:reply:broken', 'not a list')
    // Both queued before the worker starts: read together, answered in one transaction.
    const lost = await gw.send('wrong', 'wrong.job', {}, { fields: { reply: 'ipc:reply:broken' } })
    const good = await gw.send('wrong', 'wrong.job', {})
    await w.start()
    assert.equal((await gw.wait([good])).map(a => a.final.result)[0], 'done')
    await until(() => log.lines.some(l => l.level === 'error' && String((l.obj as { err?: Error }).err).includes('WRONGTYPE')), 5000, 'the lost reply logged')
    assert.equal(await gw.redis.get('ipc:reply:broken'), 'not a list')
    const [count] = await gw.redis.xpending('ipc:rpc:wrong', 'workers') as [number]
    assert.equal(count, 0)
    assert.equal((await gw.wait([lost], 300).catch(() => null)), null)
  })
})

describe('queued reads', () => {
  const readsOf = async (id: string): Promise<string | undefined> =>
    (await gw.redis.client('LIST') as string).split('\n').find(l => l.includes(` name=fastify-ipc:worker:${id}:reads `))
  // blocked on one (flags=b), the next ones unread in its query buffer
  const queued = (line: string | undefined): boolean => /flags=b .*qbuf=[1-9]\d* .*cmd=xreadgroup/.test(line ?? '')
  const connId = (line: string | undefined): string => /\bid=(\d+)/.exec(line ?? '')![1]

  test('reads wait queued in Redis; stop() ends them at once, also after their connection was killed', async () => {
    const w = worker({ service: 'queue', id: 'queue-1', concurrency: 8 }).method('queue.echo', {}, (params) => params)
    await w.start()
    await until(async () => queued(await readsOf('queue-1')), 5000, 'reads queued')
    assert.deepEqual((await gw.call('queue', 'queue.echo', { n: 1 })).final.result, { n: 1 })

    // ioredis sends the queued reads again on its new connection, whose CLIENT ID stop() must know
    const killed = connId(await readsOf('queue-1'))
    await gw.redis.client('KILL', 'ID', killed)
    await until(async () => { const line = await readsOf('queue-1'); return queued(line) && connId(line) !== killed }, 5000, 'reads queued again')
    const answers = await gw.wait(await Promise.all(Array.from({ length: 20 }, async (_, n) => await gw.send('queue', 'queue.echo', { n }))))
    assert.deepEqual(answers.map(a => a.final.result), Array.from({ length: 20 }, (_, n) => ({ n })))

    const t0 = Date.now()
    await w.stop()
    // a read left blocked would hold stop() for its BLOCK (2 s)
    assert.ok(Date.now() - t0 < 1500, `stop took ${Date.now() - t0} ms`)
    assert.equal(await readsOf('queue-1'), undefined)
    assert.equal((await gw.redis.xpending('ipc:rpc:queue', 'workers') as [number])[0], 0)
  })

  test('requests taken over count against the concurrency that queued reads hold', async () => {
    let running = 0
    let most = 0
    const w = worker({ service: 'spare', concurrency: 2 }).method('spare.work', { params: Type.Object({ n: Type.Integer() }) }, async ({ n }) => {
      most = Math.max(most, ++running)
      await sleep(300)
      running--
      return n
    })
    const abandoned = await abandon('spare', 'spare.work', 6)
    await w.start()
    // the first claim has started: new requests now come while the idle worker's reads held every slot
    await until(() => running > 0, 5000, 'a request taken over')
    const fresh = await Promise.all(Array.from({ length: 6 }, async (_, n) => await gw.send('spare', 'spare.work', { n: n + 6 })))
    const answers = await gw.wait([...abandoned, ...fresh])
    assert.deepEqual(answers.map(a => a.final.result), Array.from({ length: 12 }, (_, n) => n))
    assert.equal(most, 2)
    assert.equal((await gw.redis.xpending('ipc:rpc:spare', 'workers') as [number])[0], 0)
  })

  test('an ACL user without CLIENT: said once; requests are answered and taken over, stop() waits for the reads instead', async () => {
    await gw.redis.acl('SETUSER', 'noclient', 'on', '>pw', '~*', '&*', '+@all', '-client')
    const log = memoryLogger()
    const w = worker({ service: 'acl', logger: log, redis: redis.url.replace('//', '//noclient:pw@') }).method('acl.echo', {}, (params) => params)
    const [abandoned] = await abandon('acl', 'acl.echo', 1)
    await w.start()
    assert.deepEqual((await gw.call('acl', 'acl.echo', { n: 1 })).final.result, { n: 1 })
    assert.deepEqual((await gw.wait([abandoned])).map(a => a.final.result), [{ n: 0 }])
    const t0 = Date.now()
    await w.stop()
    assert.ok(Date.now() - t0 < 4500, `stop took ${Date.now() - t0} ms`)
    assert.equal((await gw.redis.xpending('ipc:rpc:acl', 'workers') as [number])[0], 0)
    assert.deepEqual(log.lines.filter(l => l.level === 'warn').map(l => l.msg), ['CLIENT ID refused: stop() and takeovers wait for reads to end by themselves (up to 3 s)'])
  })
})

/** `n` requests ({ n: 0 }…) left pending by a dead consumer, idle for a minute: there to be taken over. */
async function abandon (service: string, method: string, n: number): Promise<string[]> {
  const stream = `ipc:rpc:${service}`
  await gw.redis.xgroup('CREATE', stream, 'workers', '0', 'MKSTREAM')
  const ids = await Promise.all(Array.from({ length: n }, async (_, i) => await gw.send(service, method, { n: i })))
  const read = await gw.redis.xreadgroup('GROUP', 'workers', 'dead', 'COUNT', n, 'STREAMS', stream, '>') as Array<[string, Array<[string, string[]]>]>
  await gw.redis.xclaim(stream, 'workers', 'dead', 0, ...read[0][1].map(([id]) => id), 'IDLE', 60000)
  return ids
}

test('a wrong password: start() fails with what Redis said, and warns of nothing it never did', async (t) => {
  const locked = await startRedis(['--requirepass', 'the-right-one'])
  t.after(async () => await locked.stop())
  const log = memoryLogger()
  const w = new Worker({ redis: `redis://:a-wrong-one@127.0.0.1:${locked.port}`, service: 'locked', logger: log }).method('locked.op', {}, () => 1)
  await assert.rejects(w.start(), /WRONGPASS/)
  // said once, as the reason of the retries; not "could not leave the worker set", which it never joined
  assert.deepEqual(log.lines.filter(l => l.level === 'warn').map(l => l.msg).sort(), [
    `worker ${w.id} (reads): Redis unreachable, retrying`,
    `worker ${w.id}: Redis unreachable, retrying`
  ])
})

// Last in this file: it restarts the shared Redis.
describe('Redis outage', () => {
  test('after Redis restarts empty, the worker sets everything up again and answers', { timeout: 60000 }, async () => {
    const w = worker({ service: 'phoenix' }).method('phoenix.rise', {}, () => 'again')
    await w.start()
    await redis.stop()
    await sleep(500)
    await redis.start()
    await until(async () => await gw.redis.hexists('ipc:methods:phoenix', 'phoenix.rise').catch(() => 0) === 1, 20000, 'the catalog again')
    await until(async () => await gw.redis.zcard('ipc:workers:phoenix') === 1, 10000, 'the heartbeat again')
    assert.equal((await gw.call('phoenix', 'phoenix.rise', {})).final.result, 'again')
  })
})
