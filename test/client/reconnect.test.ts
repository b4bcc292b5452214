import { test } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { IpcClient, IpcError, type ClientState } from '../../src/client/index.js'
import { token } from '../helper.js'
import { nextEvent, portOf, reach, startOn } from './gateway.js'

const fast = { initialDelayMs: 20, maxDelayMs: 100 }

test('server restarted mid-session: in-flight calls fail typed, the client re-authenticates, rejoins and keeps working', async (t) => {
  let gw = await startOn(0, { shutdownTimeoutMs: 0 })
  t.after(() => gw.close())
  const port = portOf(gw)
  let tokens = 0
  const client = new IpcClient({ url: gw.url, getToken: () => { tokens++; return token({ sub: '42', rooms: ['orders:*'] }) }, reconnect: fast })
  t.after(() => client.close())
  const states: ClientState[] = []
  client.onStateChange(s => states.push(s))
  await client.connect()
  await client.join('orders:1')
  const first = client.connectionId
  const events: unknown[] = []
  client.on('order.updated', data => events.push(data))

  const inFlight = client.call('slow.wait', { ms: 1000 })
  await sleep(20)
  // The expectation is attached before the close rejects the call: a rejection no one handles yet
  // fails the test on Node 22 and later.
  const lost = assert.rejects(inFlight, (err: unknown) => {
    assert.ok(err instanceof IpcError)
    assert.equal(err.code, IpcError.UNAVAILABLE)
    assert.equal(err.message, 'Connection lost')
    assert.equal((err.data as { closeCode: number }).closeCode, 1001)
    return true
  })
  await gw.close()
  await lost
  await reach(client, 'reconnecting')
  const queued = client.call('math.add', { a: 1, b: 2 })
  await sleep(150) // a few refused attempts
  assert.equal(client.state, 'reconnecting')

  gw = await startOn(port)
  await reach(client, 'open')
  assert.deepEqual(await queued, { sum: 3 })
  assert.equal(tokens, 2, 'a fresh token for the new connection')
  assert.notEqual(client.connectionId, first)
  assert.equal(client.userId, '42')
  // Rejoined before "open": an event to the room arrives on the new connection.
  const ev = nextEvent(client, 'order.updated')
  await gw.app.ipc.publish({ target: 'room:orders:1', event: 'order.updated', data: { n: 2 } })
  await ev
  assert.deepEqual(events, [{ n: 2 }])
  assert.deepEqual(await client.presence({ room: 'orders:1' }), { room: 'orders:1', count: 1, users: ['42'] })
  assert.deepEqual(await client.call('math.add', { a: 2, b: 3 }), { sum: 5 })
  assert.deepEqual(states, ['connecting', 'open', 'reconnecting', 'open'])
})

test('while disconnected, calls wait in a bounded queue for a bounded time', async (t) => {
  const gw = await startOn(0, { shutdownTimeoutMs: 0 })
  const client = new IpcClient({ url: gw.url, token: token({ sub: '1' }), reconnect: fast, queue: { max: 2, timeoutMs: 150 } })
  t.after(() => client.close())
  await client.connect()
  await gw.close()
  await reach(client, 'reconnecting')
  const a = client.call('math.add', { a: 1, b: 1 })
  const b = client.call('math.add', { a: 1, b: 1 })
  await assert.rejects(client.call('math.add', { a: 1, b: 1 }), (err: unknown) =>
    err instanceof IpcError && err.code === IpcError.UNAVAILABLE && /2 calls already wait/.test(err.message))
  const ac = new AbortController()
  ac.abort(new Error('never mind'))
  await assert.rejects(client.call('math.add', { a: 1, b: 1 }, { signal: ac.signal }), /never mind/)
  for (const p of [a, b]) {
    await assert.rejects(p, (err: unknown) => err instanceof IpcError && err.code === IpcError.UNAVAILABLE && /within 150 ms/.test(err.message))
  }
  // close() fails what still waits and stops reconnecting.
  const c = client.call('math.add', { a: 1, b: 1 })
  await client.close()
  await assert.rejects(c, /closed/)
  assert.equal(client.state, 'closed')
})

test('a rejected token is terminal: connect() rejects with -32001 and nothing reconnects', async (t) => {
  const gw = await startOn(0)
  t.after(() => gw.close())
  const bad = new IpcClient({ url: gw.url, token: token({ sub: '1' }, { key: 'another-secret-0123456789abcdef0123' }), reconnect: fast })
  const closed = new Promise<IpcError | undefined>(resolve => bad.onStateChange((s, err) => { if (s === 'closed') resolve(err) }))
  await assert.rejects(bad.connect(), (err: unknown) => err instanceof IpcError && err.code === IpcError.UNAUTHENTICATED)
  assert.equal(bad.state, 'closed')
  assert.equal((await closed)?.code, IpcError.UNAUTHENTICATED)

  // With getToken, one fresh token is tried; when that is refused too, the client stops.
  let asked = 0
  const refused = new IpcClient({ url: gw.url, getToken: () => { asked++; return 'not-a-jwt' }, reconnect: fast })
  await assert.rejects(refused.connect(), (err: unknown) => err instanceof IpcError && err.code === IpcError.UNAUTHENTICATED)
  await sleep(200)
  assert.equal(asked, 2)
  assert.equal(refused.state, 'closed')
})

test('a 4001 close (not authenticated in time) is terminal without getToken', async (t) => {
  const gw = await startOn(0, { authTimeoutMs: 100 })
  t.after(() => gw.close())
  // No token: the socket opens, nobody authenticates, the server closes with 4001.
  const client = new IpcClient({ url: gw.url, reconnect: fast })
  const closed = new Promise<IpcError | undefined>(resolve => client.onStateChange((s, err) => { if (s === 'closed') resolve(err) }))
  await client.connect()
  const err = await closed
  assert.equal(err?.code, IpcError.UNAUTHENTICATED)
  assert.equal((err?.data as { closeCode: number }).closeCode, 4001)
  await sleep(100)
  assert.equal(client.state, 'closed')
})

test('reconnect: false and maxAttempts end the client instead of retrying forever', async (t) => {
  const gw = await startOn(0, { shutdownTimeoutMs: 0 })
  const port = portOf(gw)
  const once = new IpcClient({ url: gw.url, token: token({ sub: '1' }), reconnect: false })
  const limited = new IpcClient({ url: gw.url, token: token({ sub: '1' }), reconnect: { ...fast, maxAttempts: 2 } })
  t.after(() => once.close())
  t.after(() => limited.close())
  await once.connect()
  await limited.connect()
  await gw.close()
  await reach(once, 'closed')
  await reach(limited, 'closed', 2000)
  await assert.rejects(limited.call('math.add', { a: 1, b: 1 }), /closed/)
  // Nothing listens on the port, and nothing tries it any more.
  const gw2 = await startOn(port)
  t.after(() => gw2.close())
  await sleep(200)
  assert.equal(gw2.app.ipcHub.connections.size, 0)
})

test('close() leaves no timer behind: refresh, reconnect and queue timers are all cleared', async () => {
  const timers = (): number => process.getActiveResourcesInfo().filter(r => r === 'Timeout').length
  await sleep(1100) // earlier tests' server-side sleeps end first
  const before = timers()
  const gw = await startOn(0, { shutdownTimeoutMs: 0 })
  const client = new IpcClient({ url: gw.url, getToken: () => token({ sub: '1' }), reconnect: { initialDelayMs: 1000, maxDelayMs: 5000 } })
  await client.connect()
  await gw.close()
  await reach(client, 'reconnecting')
  const queued = [client.call('math.add', { a: 1, b: 1 }), client.call('math.add', { a: 1, b: 1 })].map(async p => await p.catch(e => e))
  assert.ok(timers() > before)
  await client.close()
  for (const err of await Promise.all(queued)) assert.ok(err instanceof IpcError)
  await sleep(100) // the closed gateway's sockets finish closing (ws' own close timers)
  assert.equal(timers(), before)
})
