import { test } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { IpcClient, IpcError, type ClientState } from '../../src/client/index.js'
import { token } from '../helper.js'
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
  assert.equal(gw.app.ipcHub.connections.size, 0)
})
