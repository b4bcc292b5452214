// Configuration errors carry one code per kind, exported for callers to test `err.code`.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import Fastify from 'fastify'
import fastifyIpc, { DuplicateMethodError, InvalidMethodError, InvalidOptionError, InvalidStateError } from '../src/index.js'
import { Worker } from '../src/worker/index.js'
import { SECRET } from './helper.js'

const code = (expected: string, message: RegExp) => (err: Error & { code?: string }) => {
  assert.equal(err.code, expected)
  assert.match(err.message, message)
  return true
}

test('plugin options: FST_IPC_INVALID_OPTION, naming the option', async () => {
  for (const [options, message] of [
    [{ maxBatch: 0 }, /option "maxBatch" must be >= 1/],
    [{ nope: true }, /unknown option "nope"/],
    [{ redis: 42 }, /option "redis" must be a redis:\/\/ URL/],
    [{ canJoin: 'yes' }, /option "canJoin" must be a function/],
    [{ historySize: 0 }, /option "historySize" must be >= 1/],
    [{ historyTtlMs: 10 }, /option "historyTtlMs" must be >= 1000/],
    [{ historyRooms: ['chat rooms'] }, /option "historyRooms.0" must match/],
    [{ historyUsers: 'yes' }, /option "historyUsers" must be boolean/]
  ] as const) {
    const app = Fastify({ logger: false })
    await assert.rejects(async () => { await app.register(fastifyIpc, options as never) }, code('FST_IPC_INVALID_OPTION', message))
    await app.close()
  }
  assert.equal(new InvalidOptionError('x').code, 'FST_IPC_INVALID_OPTION')
})

test('methods: FST_IPC_INVALID_METHOD and FST_IPC_DUPLICATE_METHOD, in the gateway and in workers', async (t) => {
  const app = Fastify({ logger: false })
  t.after(() => app.close())
  await app.register(fastifyIpc, { jwt: { secret: SECRET } })
  app.ipc.method('a.b', {}, () => 1)
  assert.throws(() => app.ipc.method('a.b', {}, () => 2), code('FST_IPC_DUPLICATE_METHOD', /"a.b" is already defined/))
  assert.throws(() => app.ipc.method('bad name', {}, () => 1), code('FST_IPC_INVALID_METHOD', /invalid method name/))
  assert.throws(() => app.ipc.method('rpc.mine', {}, () => 1), code('FST_IPC_INVALID_METHOD', /reserved/))
  assert.throws(() => app.ipc.method('a.c', { timeoutMs: -1 }, () => 1), code('FST_IPC_INVALID_METHOD', /invalid options/))
  assert.throws(() => app.ipc.method('a.d', {}, 'nope' as never), code('FST_IPC_INVALID_METHOD', /needs a handler/))

  const worker = new Worker({ redis: 'redis://127.0.0.1:1', service: 'w' })
  worker.method('w.x', {}, () => 1)
  assert.throws(() => worker.method('w.x', {}, () => 1), code('FST_IPC_DUPLICATE_METHOD', /already defined/))
  assert.throws(() => worker.method('v.x', {}, () => 1), code('FST_IPC_INVALID_METHOD', /not in service "w"/))
  assert.ok(new DuplicateMethodError('x') instanceof Error && new InvalidMethodError('x') instanceof Error)
})

test('workers: FST_IPC_INVALID_OPTION for options, FST_IPC_INVALID_STATE for calls out of order', async () => {
  assert.throws(() => new Worker({ redis: 'redis://127.0.0.1:1', service: 'a.b' }), code('FST_IPC_INVALID_OPTION', /invalid service/))
  assert.throws(() => new Worker({ redis: 'redis://127.0.0.1:1', service: 'a', concurrency: 0 }), code('FST_IPC_INVALID_OPTION', /concurrency/))
  const empty = new Worker({ redis: 'redis://127.0.0.1:1', service: 'a' })
  await assert.rejects(empty.start(), code('FST_IPC_INVALID_STATE', /at least one method/))
  assert.equal(new InvalidStateError('x').code, 'FST_IPC_INVALID_STATE')
})
