// The request log (docs/protocol.md §9, §12): every failed call and a sample of the others, to the
// logger and, with `requestLogStream`, to the Redis stream `ipc:requests` capped at
// `requestLogStreamLength` entries. Real gateways (Fastify with its pino logger) on a real Redis.
import { after, before, test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import Fastify from 'fastify'
import { Redis } from 'ioredis'
import fastifyIpc, { type FastifyIpcOptions } from '../../src/index.js'
import { resolveOptions } from '../../src/config.js'
import { EnvError, fromEnv } from '../../src/env.js'
import { RpcError } from '../../src/protocol/errors.js'
import { SECRET, TestClient, token } from '../helper.js'
import { startRedis, type TestRedis } from '../helpers/redis.js'

let redis: TestRedis
let raw: Redis

before(async () => {
  redis = await startRedis()
  raw = new Redis(redis.url)
})
after(async () => {
  raw?.disconnect()
  await redis?.stop()
})

interface Logged { msg: string, rpc?: { method: string, userId: string, durationMs: number, code: number | null } }

/** A gateway whose log lines are kept, with `ok.echo` and `bad.fail` (-32004); a client of user `ada`. */
async function rig (t: TestContext, options: FastifyIpcOptions): Promise<{ client: TestClient, lines: Logged[], prefix: string }> {
  const lines: Logged[] = []
  const stream = new Writable({ write (chunk, _enc, done) { for (const l of String(chunk).split('\n')) if (l !== '') lines.push(JSON.parse(l)); done() } })
  const app = Fastify({ logger: { level: 'info', stream } })
  const prefix = `rl${Math.random().toString(36).slice(2, 8)}:`
  await app.register(fastifyIpc, { jwt: { secret: SECRET }, redis: redis.url, prefix, ...options })
  app.ipc.method('ok.echo', {}, (params: unknown) => params)
  app.ipc.method('bad.fail', {}, () => { throw new RpcError(-32004, 'No such thing') })
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.after(() => app.close())
  const { port } = app.server.address() as { port: number }
  const client = await TestClient.connect(`ws://127.0.0.1:${port}/ws`, { token: token({ sub: 'ada' }) })
  t.after(() => client.close())
  return { client, lines, prefix }
}

const calls = (lines: Logged[]): Array<NonNullable<Logged['rpc']>> => lines.filter(l => l.msg === 'rpc call').map(l => l.rpc!)

async function entries (key: string, n: number): Promise<Array<Record<string, string>>> {
  for (let i = 0; i < 100; i++) {
    if (await raw.xlen(key) >= n) break
    await new Promise(resolve => setTimeout(resolve, 20))
  }
  const out = await raw.xrange(key, '-', '+')
  return out.map(([, fields]) => Object.fromEntries(fields.flatMap((v, i) => i % 2 === 0 ? [[v, fields[i + 1]]] : [])))
}

test('rate 0 (the default): only failed calls are logged, to the logger and the stream', async (t) => {
  const { client, lines, prefix } = await rig(t, { requestLogStream: true })
  for (let i = 0; i < 10; i++) assert.deepEqual((await client.call('ok.echo', { i })).result, { i })
  assert.equal((await client.call('bad.fail')).error?.code, -32004)
  assert.equal((await client.call('no.such')).error?.code, -32601)
  const logged = calls(lines)
  assert.deepEqual(logged.map(c => [c.method, c.userId, c.code]), [['bad.fail', 'ada', -32004], ['no.such', 'ada', -32601]])
  assert.ok(logged.every(c => typeof c.durationMs === 'number' && c.durationMs >= 0))
  const stream = await entries(`${prefix}requests`, 2)
  assert.equal(stream.length, 2)
  assert.deepEqual(stream.map(e => [e.method, e.user, e.outcome, e.code]), [['bad.fail', 'ada', 'error', '-32004'], ['no.such', 'ada', 'error', '-32601']])
  assert.ok(stream.every(e => e.node !== '' && Number(e.ms) >= 0))
})

test('rate 1: every call is logged; without requestLogStream nothing goes to Redis', async (t) => {
  const { client, lines, prefix } = await rig(t, { requestLogSampleRate: 1 })
  for (let i = 0; i < 5; i++) await client.call('ok.echo', { i })
  await client.call('bad.fail')
  assert.deepEqual(calls(lines).map(c => [c.method, c.code]), [...Array(5).fill(['ok.echo', null]), ['bad.fail', -32004]])
  assert.equal(await raw.exists(`${prefix}requests`), 0)
})

test('a rate between 0 and 1 logs a share of the successful calls', async (t) => {
  const { client, lines } = await rig(t, { requestLogSampleRate: 0.5 })
  for (let i = 0; i < 200; i++) await client.call('ok.echo', { i })
  const n = calls(lines).length
  // binomial(200, 0.5): outside 50..150 once in about 10^12 runs
  assert.ok(n > 50 && n < 150, `${n} of 200 logged`)
})

test('the stream is bounded: it keeps the newest requestLogStreamLength entries', async (t) => {
  const { client, prefix } = await rig(t, { requestLogSampleRate: 1, requestLogStream: true, requestLogStreamLength: 20 })
  for (let i = 0; i < 60; i++) await client.call('ok.echo', { i })
  await client.call('bad.fail')
  const stream = await entries(`${prefix}requests`, 20)
  for (let i = 0; i < 50 && stream.at(-1)?.method !== 'bad.fail'; i++) stream.splice(0, stream.length, ...await entries(`${prefix}requests`, 20))
  assert.equal(stream.length, 20)
  assert.equal(stream.at(-1)?.method, 'bad.fail')
})

test('options: the rate is a number from 0 to 1, the stream needs Redis; env values are checked', () => {
  assert.throws(() => resolveOptions({ requestLogSampleRate: 1.5 }), /requestLogSampleRate/)
  assert.throws(() => resolveOptions({ requestLogSampleRate: -0.1 }), /requestLogSampleRate/)
  assert.throws(() => resolveOptions({ requestLogStream: true }), /requestLogStream.*needs "redis"/)
  assert.throws(() => resolveOptions({ requestLogStreamLength: 0 }), /requestLogStreamLength/)
  assert.equal(resolveOptions({}).requestLogSampleRate, 0)
  assert.equal(resolveOptions({}).tracing, true)
  const env = fromEnv({ IPC_REQUEST_LOG_SAMPLE_RATE: '0.25', IPC_REQUEST_LOG_STREAM: 'true', IPC_REQUEST_LOG_STREAM_LENGTH: '500', IPC_TRACING: 'false' }).options
  assert.deepEqual([env.requestLogSampleRate, env.requestLogStream, env.requestLogStreamLength, env.tracing], [0.25, true, 500, false])
  assert.equal(fromEnv({ IPC_REQUEST_LOG_SAMPLE_RATE: '1' }).options.requestLogSampleRate, 1)
  for (const [name, value] of [['IPC_REQUEST_LOG_SAMPLE_RATE', '2'], ['IPC_REQUEST_LOG_SAMPLE_RATE', 'half'], ['IPC_REQUEST_LOG_STREAM', 'yes'], ['IPC_REQUEST_LOG_STREAM_LENGTH', '0'], ['IPC_TRACING', 'off']]) {
    assert.throws(() => fromEnv({ [name]: value }), (err: Error) => err instanceof EnvError && err.message.startsWith(name) && !err.message.includes('\n'), `${name}=${value}`)
  }
})
