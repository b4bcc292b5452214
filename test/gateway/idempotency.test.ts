// Resumable calls on one node (docs/protocol.md §3): a call with an idempotencyKey runs once per user
// and key; a re-send gets its answer, waits for the run under way, or -32009 when it is another call.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import Type from 'typebox'
import { ErrorCode, RpcError } from '../../src/protocol/errors.js'
import { TestClient, token } from '../helper.js'
import { gatewayOnWs } from './harness.js'

async function setup (t: { after: (fn: () => Promise<void>) => void }, options = {}): Promise<{ url: string, runs: Map<string, number> }> {
  const h = await gatewayOnWs({ allowAnonymous: true, ...options })
  t.after(h.close)
  const runs = new Map<string, number>()
  const count = (key: string | undefined): number => {
    const n = (runs.get(key ?? '') ?? 0) + 1
    runs.set(key ?? '', n)
    return n
  }
  h.gateway.api.method('pay.charge', { params: Type.Object({ cents: Type.Integer(), ms: Type.Optional(Type.Integer()) }) }, async ({ cents, ms }, ctx) => {
    await sleep(ms ?? 0)
    ctx.progress({ step: 'charged' })
    return { cents, key: ctx.idempotencyKey, run: count(ctx.idempotencyKey) }
  })
  h.gateway.api.method('pay.refuse', {}, (_p, ctx) => { count(ctx.idempotencyKey); throw new RpcError(4020, 'Card declined', { retry: false }) })
  h.gateway.api.method('pay.busy', {}, (_p, ctx) => { count(ctx.idempotencyKey); throw new RpcError(ErrorCode.UNAVAILABLE, 'Unavailable: try later') })
  h.gateway.api.method('pub.hello', { access: 'public' }, () => 'hi')
  return { url: h.url, runs }
}

const keyed = (id: number, method: string, params: unknown, key: string): object => ({ jsonrpc: '2.0', id, method, params, idempotencyKey: key })

test('a re-sent call gets the kept answer; a re-send during the run waits for it; another user runs its own', async (t) => {
  const { url, runs } = await setup(t)
  const a = await TestClient.connect(url, { token: token({ sub: 'u1' }) })
  t.after(() => a.close())
  a.send(keyed(1, 'pay.charge', { cents: 500, ms: 200 }, 'k-1'))
  await sleep(50)
  // The link drops mid-run: the run goes on, and its answer is kept.
  await a.close()
  const b = await TestClient.connect(url, { token: token({ sub: 'u1' }) })
  t.after(() => b.close())
  const waited = b.next(f => f.id === 7)
  b.send(keyed(7, 'pay.charge', { cents: 500, ms: 200 }, 'k-1'))
  assert.deepEqual((await waited).result, { cents: 500, key: 'k-1', run: 1 })
  // Later re-sends get it at once, by position too (the same params by name after mapping).
  b.send(keyed(8, 'pay.charge', [500, 200], 'k-1'))
  assert.deepEqual((await b.next(f => f.id === 8)).result, { cents: 500, key: 'k-1', run: 1 })
  b.send(keyed(9, 'pay.charge', { cents: 500, ms: 200 }, 'k-1'))
  assert.deepEqual((await b.next(f => f.id === 9)).result, { cents: 500, key: 'k-1', run: 1 })
  assert.equal(runs.get('k-1'), 1)
  // No progress frame for a re-send: only the run's own caller saw them.
  assert.equal(b.frames.filter(f => f.method === 'rpc.progress').length, 0)

  // The same key of another user is another call.
  const c = await TestClient.connect(url, { token: token({ sub: 'u2' }) })
  t.after(() => c.close())
  c.send(keyed(1, 'pay.charge', { cents: 500 }, 'k-1'))
  assert.deepEqual((await c.next(f => f.id === 1)).result, { cents: 500, key: 'k-1', run: 2 })
})

test('the same key for another call is -32009; application errors are kept, transient ones are not', async (t) => {
  const { url, runs } = await setup(t)
  const c = await TestClient.connect(url, { token: token({ sub: 'u1' }) })
  t.after(() => c.close())
  c.send(keyed(1, 'pay.charge', { cents: 100 }, 'k-2'))
  assert.equal((await c.next(f => f.id === 1)).result.run, 1)
  for (const [id, method, params] of [[2, 'pay.charge', { cents: 101 }], [3, 'pay.refuse', {}]] as const) {
    c.send(keyed(id, method, params, 'k-2'))
    const err = (await c.next(f => f.id === id)).error
    assert.deepEqual(err, { code: -32009, message: 'Conflict: idempotencyKey "k-2" was used for another call (another method or other params)', data: { idempotencyKey: 'k-2' } })
  }

  c.send(keyed(4, 'pay.refuse', {}, 'k-3'))
  c.send(keyed(5, 'pay.refuse', {}, 'k-3'))
  for (const id of [4, 5]) assert.deepEqual((await c.next(f => f.id === id)).error, { code: 4020, message: 'Card declined', data: { retry: false } })
  assert.equal(runs.get('k-3'), 1)

  for (const id of [6, 7]) {
    c.send(keyed(id, 'pay.busy', {}, 'k-4'))
    assert.equal((await c.next(f => f.id === id)).error?.code, -32050)
  }
  assert.equal(runs.get('k-4'), 2, 'an unavailable answer is not kept: the re-send runs again')
})

test('a key is checked: 1-256 characters, and only on an authenticated connection', async (t) => {
  const { url } = await setup(t)
  const anon = await TestClient.connect(url)
  t.after(() => anon.close())
  anon.send(keyed(1, 'pub.hello', {}, 'k'))
  assert.deepEqual((await anon.next(f => f.id === 1)).error, { code: -32600, message: 'Invalid request: idempotencyKey needs an authenticated connection' })
  for (const [id, key] of [[2, ''], [3, 'x'.repeat(257)], [4, 42]] as const) {
    anon.send(keyed(id, 'pub.hello', {}, key as string))
    assert.equal((await anon.next(f => f.id === id)).error?.code, -32600)
  }
})

test('kept answers expire after resultTtlMs: the key then runs again', async (t) => {
  const { url, runs } = await setup(t, { resultTtlMs: 100 })
  const c = await TestClient.connect(url, { token: token({ sub: 'u1' }) })
  t.after(() => c.close())
  c.send(keyed(1, 'pay.charge', { cents: 1 }, 'k-5'))
  assert.equal((await c.next(f => f.id === 1)).result.run, 1)
  await sleep(200)
  c.send(keyed(2, 'pay.charge', { cents: 1 }, 'k-5'))
  assert.equal((await c.next(f => f.id === 2)).result.run, 2)
  assert.equal(runs.get('k-5'), 2)
})
