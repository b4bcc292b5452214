import { test } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { IpcClient, IpcError, type ClientState } from '../../src/client/index.js'
import { gatewayOf, token } from '../helper.js'
import { reach, startOn } from './gateway.js'

const fast = { initialDelayMs: 20, maxDelayMs: 100 }

test('the token is refreshed before it expires, on the same connection', async (t) => {
  const gw = await startOn(0)
  t.after(() => gw.close())
  let asked = 0
  const client = new IpcClient({ url: gw.url, getToken: () => { asked++; return token({ sub: '42' }, { ttl: 3 }) }, reconnect: fast })
  t.after(() => client.close())
  const states: ClientState[] = []
  client.onStateChange(s => states.push(s))
  await client.connect()
  const { connectionId, expiresAt } = client
  assert.ok(expiresAt !== null && expiresAt > Date.now())
  // Past the first token's expiry: without a refresh the server would have closed with 4003.
  await sleep(expiresAt - Date.now() + 700)
  assert.ok(asked >= 2, `getToken asked ${asked} times`)
  assert.ok(client.expiresAt! > expiresAt)
  assert.equal(client.connectionId, connectionId)
  assert.deepEqual(states, ['connecting', 'open'])
  assert.deepEqual(await client.call('math.add', { a: 1, b: 1 }), { sum: 2 })
})

test('after a 4003 close the client reconnects with a fresh token from getToken', async (t) => {
  const gw = await startOn(0)
  t.after(() => gw.close())
  let asked = 0
  const client = new IpcClient({
    url: gw.url,
    reconnect: fast,
    getToken: () => {
      asked++
      // The refresh before expiry fails, so the server closes with 4003; the next token is good.
      if (asked === 2) throw new Error('token service down')
      return token({ sub: '42' }, { ttl: asked === 1 ? 2 : 3600 })
    }
  })
  t.after(() => client.close())
  await client.connect()
  const first = client.connectionId
  const dropped = new Promise<unknown>(resolve => { client.call('slow.wait', { ms: 3000 }).catch(resolve) })
  await reach(client, 'reconnecting', 3000)
  const err = await dropped
  assert.ok(err instanceof IpcError && err.code === IpcError.UNAVAILABLE)
  assert.equal((err.data as { closeCode: number }).closeCode, 4003)
  await reach(client, 'open')
  assert.equal(asked, 3)
  assert.notEqual(client.connectionId, first)
  assert.deepEqual(await client.call('math.add', { a: 1, b: 1 }), { sum: 2 })
})

test('without getToken, a 4003 close ends the client', async (t) => {
  const gw = await startOn(0)
  t.after(() => gw.close())
  const client = new IpcClient({ url: gw.url, token: token({ sub: '42' }, { ttl: 2 }), reconnect: fast })
  t.after(() => client.close())
  const closed = new Promise<IpcError | undefined>(resolve => client.onStateChange((s, err) => { if (s === 'closed') resolve(err) }))
  await client.connect()
  const err = await closed
  assert.equal(err?.code, IpcError.UNAUTHENTICATED)
  assert.match(err!.message, /Token expired/)
  assert.equal((err?.data as { closeCode: number }).closeCode, 4003)
  await sleep(100)
  assert.equal(client.state, 'closed')
  assert.equal(gatewayOf(gw.app).connections.size, 0)
})

test('a getToken that keeps failing is reported at once, retried a bounded number of times, then ends the client', async (t) => {
  const gw = await startOn(0)
  t.after(() => gw.close())
  let asked = 0
  const client = new IpcClient({ url: gw.url, reconnect: fast, getToken: async () => { asked++; throw new Error('token service down') } })
  t.after(() => client.close())
  const seen: Array<[ClientState, string | undefined]> = []
  client.onStateChange((s, err) => seen.push([s, err?.message]))
  const connecting = client.connect()
  const queued = client.call('math.add', { a: 1, b: 1 })
  const isTokenError = (err: unknown): boolean => {
    assert.ok(err instanceof IpcError)
    assert.equal(err.code, IpcError.UNAUTHENTICATED)
    assert.equal(err.message, 'getToken failed: token service down')
    assert.equal((err.cause as Error).message, 'token service down')
    assert.equal(err.data, err.cause)
    return true
  }
  await assert.rejects(connecting, isTokenError)
  await assert.rejects(queued, isTokenError)
  assert.equal(asked, 3)
  const failed: [ClientState, string] = ['reconnecting', 'getToken failed: token service down']
  assert.deepEqual(seen, [['connecting', undefined], failed, failed, ['closed', failed[1]]])
  await sleep(200)
  assert.equal(asked, 3, 'nothing retries after the end')
  assert.equal(client.state, 'closed')
  assert.equal(gatewayOf(gw.app).connections.size, 0)

  // maxTokenFailures sets the bound; a lower reconnect.maxAttempts still wins.
  let asked2 = 0
  const once = new IpcClient({ url: gw.url, reconnect: fast, maxTokenFailures: 1, getToken: () => { asked2++; throw new Error('no') } })
  await assert.rejects(once.connect(), (err: unknown) => err instanceof IpcError && err.code === IpcError.UNAUTHENTICATED)
  assert.equal(asked2, 1)
  let asked3 = 0
  const limited = new IpcClient({ url: gw.url, reconnect: { ...fast, maxAttempts: 1 }, getToken: () => { asked3++; throw new Error('no') } })
  await assert.rejects(limited.connect(), /Gave up after 1 reconnect attempts: getToken failed: no/)
  assert.equal(asked3, 2)
})

test('a getToken that fails once, then works, connects', async (t) => {
  const gw = await startOn(0)
  t.after(() => gw.close())
  let asked = 0
  const client = new IpcClient({
    url: gw.url,
    reconnect: fast,
    getToken: () => {
      if (asked++ === 0) throw new Error('token service starting')
      return token({ sub: '42' })
    }
  })
  t.after(() => client.close())
  const seen: Array<[ClientState, number | undefined]> = []
  client.onStateChange((s, err) => seen.push([s, err?.code]))
  await client.connect()
  assert.equal(asked, 2)
  assert.deepEqual(seen, [['connecting', undefined], ['reconnecting', IpcError.UNAUTHENTICATED], ['open', undefined]])
  assert.deepEqual(await client.call('math.add', { a: 1, b: 1 }), { sum: 2 })
})
