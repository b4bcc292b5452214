// The in-process hooks (docs/protocol.md §5): onConnect may refuse a connection, onDisconnect hears
// of its end with its rooms; a real gateway, real sockets, the memory broker.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { permissionDenied, type Identity } from '../../src/index.js'
import { startGateway, TestClient, token } from '../helper.js'

test('onConnect refuses (false or -32003) or keeps (a crash is logged, not a refusal); onDisconnect gets the rooms', async (t) => {
  const connected: Array<{ userId: string, connectionId: string, ip: string }> = []
  const gone: Array<{ userId: string, rooms: string[] }> = []
  const gw = await startGateway({
    publicRooms: ['lobby'],
    onConnect: async (identity: Identity, { connectionId, ip }) => {
      connected.push({ userId: identity.userId, connectionId, ip })
      if (identity.userId === 'banned') return false
      if (identity.userId === 'denied') throw permissionDenied('no')
      if (identity.userId === 'buggy') throw new Error('hook bug')
      return undefined
    },
    onDisconnect: (identity, { rooms }) => { gone.push({ userId: identity.userId, rooms }) }
  })
  t.after(() => gw.close())
  for (const sub of ['banned', 'denied']) {
    const refused = await TestClient.connect(gw.url, { token: token({ sub }) })
    assert.deepEqual(await refused.closed, { code: 1008, reason: 'refused by the backend' }, sub)
  }
  const buggy = await TestClient.connect(gw.url, { auth: token({ sub: 'buggy' }) })
  assert.ok((await buggy.call('rpc.ping')).result, 'a crashing onConnect keeps the connection')
  await buggy.close()

  const ada = await TestClient.connect(gw.url, { auth: token({ sub: 'ada' }) })
  await ada.call('rpc.join', ['lobby'])
  const refresh = await ada.call('rpc.auth', [token({ sub: 'ada' })])
  assert.ok(refresh.result)
  await ada.close()
  const end = Date.now() + 5000
  while (!gone.some(g => g.userId === 'ada') && Date.now() < end) await sleep(10)
  assert.equal(connected.filter(c => c.userId === 'ada').length, 1, 'a refresh is no new connection')
  assert.equal(connected.find(c => c.userId === 'ada')!.ip, '127.0.0.1')
  assert.deepEqual(gone.find(g => g.userId === 'ada'), { userId: 'ada', rooms: ['lobby'] })
  assert.ok(gone.some(g => g.userId === 'banned'), 'a refused connection was authenticated: its end is told too')
})
