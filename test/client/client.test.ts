import { test } from 'node:test'
import assert from 'node:assert/strict'
import { IpcClient, IpcError } from '../../src/client/index.js'
import { backoffDelay } from '../../src/client/backoff.js'
import { token } from '../helper.js'
import { nextEvent, startOn } from './gateway.js'

const isIpcError = (code: number, message?: RegExp) => (err: unknown): boolean => {
  assert.ok(err instanceof IpcError, `expected an IpcError, got ${String(err)}`)
  assert.equal(err.code, code)
  if (message !== undefined) assert.match(err.message, message)
  return true
}

async function connected (t: { after (fn: () => Promise<void>): void }, claims: Record<string, unknown> = { sub: '42', rooms: ['orders:*'] }) {
  const gw = await startOn(0)
  t.after(() => gw.close())
  const client = new IpcClient({ url: gw.url, token: token(claims) })
  t.after(() => client.close())
  await client.connect()
  return { gw, client }
}

test('connects, authenticates by first message and calls methods', async (t) => {
  const { client } = await connected(t)
  const states: string[] = []
  client.onStateChange(s => states.push(s))
  assert.equal(client.state, 'open')
  assert.equal(client.userId, '42')
  assert.equal(typeof client.connectionId, 'string')
  assert.deepEqual(await client.call('math.add', { a: 1, b: 2 }), { sum: 3 })
  assert.deepEqual(await client.call('whoami'), { userId: '42', connectionId: client.connectionId })
  assert.equal(typeof (await client.call<{ time: number }>('rpc.ping')).time, 'number')
  await client.close()
  assert.equal(client.state, 'closed')
  assert.deepEqual(states, ['closed'])
  await assert.rejects(client.call('math.add', { a: 1, b: 2 }), isIpcError(IpcError.UNAVAILABLE, /closed/))
})

test('errors are IpcErrors with the protocol code, message and data', async (t) => {
  const { client } = await connected(t)
  await assert.rejects(client.call('orders.fail'), (err: unknown) => {
    assert.ok(err instanceof IpcError && err instanceof Error)
    assert.equal(err.code, 4040)
    assert.equal(err.message, 'No such order')
    assert.deepEqual(err.data, { orderId: 7 })
    return true
  })
  await assert.rejects(client.call('math.add', { a: 'x' }), (err: unknown) => {
    isIpcError(IpcError.INVALID_PARAMS)(err)
    assert.ok(Array.isArray((err as IpcError).data && ((err as IpcError).data as { errors: unknown }).errors))
    return true
  })
  await assert.rejects(client.call('nope.nothing'), isIpcError(IpcError.METHOD_NOT_FOUND))
  assert.equal(IpcError.UNAVAILABLE, -32050)
  assert.equal(IpcError.DEADLINE_EXCEEDED, -32008)
})

test('events reach their handlers with meta, until unsubscribed', async (t) => {
  const { gw, client } = await connected(t)
  const got: unknown[] = []
  const off = client.on('order.updated', (data, meta) => got.push({ data, meta }))
  const { offset, epoch } = await gw.app.ipc.publish({ target: 'user:42', event: 'order.updated', data: { id: 1 } })
  await gw.app.ipc.publish({ target: 'user:42', event: 'other', data: {} })
  const last = nextEvent(client, 'done')
  await gw.app.ipc.publish({ target: 'all', event: 'done', data: null })
  await last
  assert.deepEqual(got, [{ data: { id: 1 }, meta: { event: 'order.updated', target: 'user:42', offset, epoch } }])
  off()
  const marker = nextEvent(client, 'done')
  await gw.app.ipc.publish({ target: 'user:42', event: 'order.updated', data: { id: 2 } })
  await gw.app.ipc.publish({ target: 'all', event: 'done', data: null })
  await marker
  assert.equal(got.length, 1)
})

test('rooms: join, events to the room, presence, refusal, leave', async (t) => {
  const { gw, client } = await connected(t)
  assert.deepEqual(await client.join('orders:1'), { room: 'orders:1' })
  const ev = nextEvent(client, 'order.updated')
  await gw.app.ipc.publish({ target: 'room:orders:1', event: 'order.updated', data: { id: 1 } })
  assert.deepEqual(await ev, { data: { id: 1 }, meta: { event: 'order.updated', target: 'room:orders:1' } })
  assert.deepEqual(await client.presence({ room: 'orders:1' }), { room: 'orders:1', count: 1, users: ['42'] })
  assert.deepEqual(await client.presence({ users: ['42', '7'] }), { online: { 42: true, 7: false } })
  await assert.rejects(client.join('secret'), isIpcError(IpcError.PERMISSION_DENIED))
  assert.deepEqual(await client.leave('orders:1'), { room: 'orders:1' })
  const got: unknown[] = []
  client.on('order.updated', data => got.push(data))
  const marker = nextEvent(client, 'done')
  await gw.app.ipc.publish({ target: 'room:orders:1', event: 'order.updated', data: { id: 2 } })
  await gw.app.ipc.publish({ target: 'user:42', event: 'done', data: null })
  await marker
  assert.deepEqual(got, [])
})

test('progress frames go to the call\'s onProgress', async (t) => {
  const { client } = await connected(t)
  const progress: unknown[] = []
  assert.deepEqual(await client.call('job.run', {}, { onProgress: d => progress.push(d) }), { done: true })
  assert.deepEqual(progress, [{ pct: 50 }, { pct: 100 }])
})

test('timeouts: client-side deadline, server deadline, abort signal', async (t) => {
  const { client } = await connected(t)
  await assert.rejects(client.call('slow.wait', { ms: 300 }, { timeoutMs: 50 }), isIpcError(IpcError.DEADLINE_EXCEEDED, /50 ms/))
  await assert.rejects(client.call('slow.deadline'), isIpcError(IpcError.DEADLINE_EXCEEDED))
  const ac = new AbortController()
  const aborted = client.call('slow.wait', { ms: 300 }, { signal: ac.signal })
  ac.abort(new Error('user gave up'))
  await assert.rejects(aborted, /user gave up/)
  await assert.rejects(client.call('math.add', { a: 1, b: 1 }, { signal: ac.signal }), /user gave up/)
  // The connection is still good after all that.
  assert.deepEqual(await client.call('math.add', { a: 2, b: 2 }), { sum: 4 })
})

test('notify sends a notification that is not answered', async (t) => {
  const { gw, client } = await connected(t)
  let seen: unknown
  gw.app.ipc.method('log.write', {}, (params) => { seen = params })
  client.notify('log.write', { line: 'hi' })
  assert.deepEqual(await client.call('math.add', { a: 0, b: 0 }), { sum: 0 })
  assert.deepEqual(seen, { line: 'hi' })
})

test('backoff: full jitter under an exponential, capped ceiling', () => {
  const opts = { initialDelayMs: 100, maxDelayMs: 1000 }
  assert.equal(backoffDelay(0, opts, () => 0.999), 99)
  assert.equal(backoffDelay(3, opts, () => 0.999), 799)
  assert.equal(backoffDelay(4, opts, () => 0.999), 999)
  assert.equal(backoffDelay(2000, opts, () => 0.5), 500)
  assert.equal(backoffDelay(5, opts, () => 0), 0)
})

test('constructor refuses a bad url and both token and getToken', () => {
  assert.throws(() => new IpcClient({ url: 'http://x/ws' }), /ws: or wss:/)
  assert.throws(() => new IpcClient({ url: 'ws://x/ws', token: 'a', getToken: () => 'b' }), /not both/)
})
