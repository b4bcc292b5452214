// Recovery with real worker processes (`fastify-ipc worker <module>`): takeover after SIGKILL,
// poison requests into the dead-letter stream, graceful SIGTERM.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { startRedis, type TestRedis } from '../helpers/redis.js'
import { Worker } from '../../src/worker/index.js'
import { spawnWorker, type WorkerProcess } from './child.js'
import { FakeGateway, memoryLogger, sleep, until } from './fake-gateway.js'

let redis: TestRedis
let gw: FakeGateway
const children: WorkerProcess[] = []

before(async () => {
  redis = await startRedis()
  gw = new FakeGateway(redis.url)
})
after(async () => {
  for (const c of children) if (!c.hasExited()) c.child.kill('SIGKILL')
  await Promise.all(children.map(async c => await c.exited))
  await gw.close()
  await redis.stop()
})

function start (service: string): WorkerProcess {
  const c = spawnWorker({ REDIS_URL: redis.url, IPC_WORKER_SERVICE: service, IPC_WORKER_CONCURRENCY: '10' })
  children.push(c)
  return c
}

const pending = async (service: string): Promise<number> => (await gw.redis.xpending(`ipc:rpc:${service}`, 'workers') as [number])[0]

test('requests held by a worker killed with SIGKILL are all answered by another one', { timeout: 60000 }, async () => {
  const a = start('jobs')
  await until(async () => await gw.redis.zcard('ipc:workers:jobs') === 1, 15000, 'worker A to start')
  const ids = await Promise.all(Array.from({ length: 5 }, async () => await gw.send('jobs', 'jobs.wait', { ms: 60000 }, { deadline: Date.now() + 45000 })))
  await until(async () => await pending('jobs') === 5, 5000, 'A to hold every request')

  const b = new Worker({ redis: redis.url, service: 'jobs', logger: memoryLogger() })
    .method('jobs.wait', {}, () => ({ by: 'B' }))
  await b.start()
  try {
    // A is alive and renews its claim on long jobs: B must not take them, however long they run.
    await sleep(6500)
    assert.equal(await gw.redis.llen(gw.replyKey), 0)

    a.child.kill('SIGKILL')
    await a.exited
    const killedAt = Date.now()
    const answers = await gw.wait(ids, 15000)
    const took = Date.now() - killedAt
    assert.deepEqual(answers.map(x => x.final.result), ids.map(() => ({ by: 'B' })))
    assert.ok(took >= 3000 && took < 10000, `taken over after ${took} ms`)
    assert.equal(await pending('jobs'), 0)
  } finally {
    await b.stop()
  }
})

test('a request that crashes its worker every time ends in the dead-letter stream, answered -32603', { timeout: 90000 }, async () => {
  const id = await gw.send('poison', 'poison.crash', {}, { deadline: Date.now() + 80000 })
  let crashes = 0
  for (;;) {
    const c = start('poison')
    await until(async () => c.hasExited() || await gw.redis.llen(gw.replyKey) > 0, 20000, 'a crash or an answer')
    if (!c.hasExited()) {
      c.child.kill('SIGTERM')
      assert.equal(await c.exited, 0)
      break
    }
    crashes++
    assert.ok(crashes <= 3, `crashed ${crashes} times: ${c.output()}`)
  }
  assert.equal(crashes, 3)
  const [{ final }] = await gw.wait([id])
  assert.equal(final.error?.code, -32603)
  const dead = await gw.redis.xrange('ipc:rpc:poison:dead', '-', '+')
  assert.equal(dead.length, 1)
  const fields = Object.fromEntries(dead[0][1].flatMap((v, i, all) => i % 2 === 0 ? [[v, all[i + 1]]] : []))
  assert.equal(fields.id, id)
  assert.equal(fields.method, 'poison.crash')
  assert.deepEqual(Object.keys(fields), ['v', 'id', 'method', 'params', 'caller', 'reply', 'deadline', 'error'])
  assert.equal(JSON.parse(fields.error).code, -32603)
  assert.equal(await pending('poison'), 0)
})

test('SIGTERM: the worker finishes what it runs, answers, leaves the worker set and exits 0', { timeout: 30000 }, async () => {
  const c = start('calm')
  await until(async () => await gw.redis.zcard('ipc:workers:calm') === 1, 15000, 'the worker to start')
  const id = await gw.send('calm', 'calm.wait', { ms: 500 })
  await until(async () => await pending('calm') === 1, 5000, 'the request to be taken')
  c.child.kill('SIGTERM')
  const [{ final }] = await gw.wait([id])
  assert.equal(typeof (final.result as { by: number }).by, 'number')
  assert.equal(await c.exited, 0)
  assert.equal(await gw.redis.zcard('ipc:workers:calm'), 0)
  assert.equal(await pending('calm'), 0)
})

test('a worker with a bad environment says which variable, in one line', async () => {
  const c = spawnWorker({ REDIS_URL: redis.url, IPC_WORKER_SERVICE: 'x', IPC_WORKER_CONCURRENCY: 'many' })
  children.push(c)
  assert.equal(await c.exited, 1)
  assert.equal(c.output(), 'fastify-ipc: IPC_WORKER_CONCURRENCY=many: must be a whole number >= 1\n')
})
