// Server-side control on one node (memory broker): presence events, the /api/* control routes and
// app.ipc's control methods, revocation at upgrade and at rpc.auth, and bad requests changing nothing.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { API_KEY, startGateway, TestClient, token, type TestGateway } from '../helper.js'

async function gateway (t: { after: (fn: () => Promise<void>) => void }): Promise<TestGateway> {
  const gw = await startGateway({ presenceEventRooms: ['chat:*'] })
  t.after(async () => await gw.close())
  return gw
}

async function client (t: { after: (fn: () => Promise<void>) => void }, gw: TestGateway, claims: Record<string, unknown>): Promise<TestClient & { connectionId: string }> {
  const c = await TestClient.connect(gw.url)
  t.after(async () => await c.close())
  const auth = await c.call('rpc.auth', { token: token({ rooms: ['*'], ...claims }) })
  assert.equal(auth.error, undefined, JSON.stringify(auth.error))
  return Object.assign(c, { connectionId: auth.result.connectionId as string })
}

const post = async (gw: TestGateway, path: string, body: unknown, key: string | null = API_KEY): Promise<Response> => await fetch(`${gw.http}${path}`, {
  method: 'POST',
  headers: { 'content-type': 'application/json', ...(key === null ? {} : { authorization: `Bearer ${key}` }) },
  body: JSON.stringify(body)
})

/** the presence events a client holds, leaving out those about itself (it hears its own join) */
const presenceEvents = (c: TestClient, self: string): string[] => c.frames
  .filter(f => f.method === 'rpc.event' && String(f.params.event).startsWith('presence.') && f.params.data.userId !== self)
  .map(f => `${f.params.event as string} ${f.params.data.userId as string}`)

/** the next presence.join / presence.leave about `userId` */
const presence = async (c: TestClient, event: string, userId: string): Promise<any> =>
  (await c.next(f => f.method === 'rpc.event' && f.params.event === event && f.params.data.userId === userId)).params

test('presence.join / presence.leave: once per user, not per tab, and only in presenceEventRooms', async (t) => {
  const gw = await gateway(t)
  const watcher = await client(t, gw, { sub: 'w' })
  await watcher.call('rpc.join', { room: 'chat:1' })
  await watcher.call('rpc.join', { room: 'lobby' })
  const tab1 = await client(t, gw, { sub: 'ada' })
  const tab2 = await client(t, gw, { sub: 'ada' })
  for (const tab of [tab1, tab2]) {
    await tab.call('rpc.join', { room: 'chat:1' })
    await tab.call('rpc.join', { room: 'lobby' })
  }
  assert.deepEqual(await presence(watcher, 'presence.join', 'ada'), { event: 'presence.join', target: 'room:chat:1', data: { room: 'chat:1', userId: 'ada' } })
  await tab1.call('rpc.leave', { room: 'chat:1' })
  await tab2.close()
  assert.deepEqual((await presence(watcher, 'presence.leave', 'ada')).data, { room: 'chat:1', userId: 'ada' })
  const events = (await watcher.call('rpc.discover')).result['x-events'] as Array<{ name: string }>
  assert.deepEqual(events.map(e => e.name).filter(n => n.startsWith('presence.')), ['presence.join', 'presence.leave'], 'declared for rpc.discover')
  assert.deepEqual(presenceEvents(watcher, 'w'), [], 'no second join for the second tab, nothing for the lobby')
})

test('HTTP control: subscribe and unsubscribe a user, disconnect a connection, with the API key', async (t) => {
  const gw = await gateway(t)
  const a1 = await client(t, gw, { sub: 'ada' })
  const a2 = await client(t, gw, { sub: 'ada' })
  const bob = await client(t, gw, { sub: 'bob' })
  await bob.call('rpc.join', { room: 'chat:9' })

  const ok = await post(gw, '/api/subscribe', { userId: 'ada', room: 'chat:9' })
  assert.equal(ok.status, 200)
  assert.deepEqual(await ok.json(), {})
  assert.deepEqual((await presence(bob, 'presence.join', 'ada')).data, { room: 'chat:9', userId: 'ada' }, 'a server-side subscription is a membership')
  assert.deepEqual((await a1.call('rpc.presence', { room: 'chat:9' })).result, { room: 'chat:9', count: 2, users: ['bob', 'ada'] })
  await post(gw, '/api/publish', { target: 'room:chat:9', event: 'said', data: 1 })
  await a1.event('said')
  await a2.event('said')
  // idempotent, and unknown users and rooms are no error
  assert.equal((await post(gw, '/api/subscribe', { userId: 'ada', room: 'chat:9' })).status, 200)
  assert.equal((await post(gw, '/api/unsubscribe', { userId: 'nobody', room: 'nowhere' })).status, 200)
  assert.equal((await post(gw, '/api/disconnect', { connectionId: 'no-such-connection' })).status, 200)

  assert.equal((await post(gw, '/api/unsubscribe', { connectionId: a2.connectionId, room: 'chat:9' })).status, 200)
  assert.deepEqual((await a2.call('rpc.leave', { room: 'chat:9' })).result, { room: 'chat:9' })
  assert.equal((await a2.call('rpc.presence', { room: 'chat:9' })).error?.code, -32003, 'a2 is out of the room')
  await a1.call('rpc.leave', { room: 'chat:9' })
  assert.deepEqual((await presence(bob, 'presence.leave', 'ada')).data, { room: 'chat:9', userId: 'ada' }, 'rpc.leave of a server-side subscription')

  assert.equal((await post(gw, '/api/disconnect', { connectionId: a1.connectionId, code: 4100, reason: 'banned' })).status, 200)
  assert.deepEqual(await a1.closed, { code: 4100, reason: 'banned' })
  assert.deepEqual((await a2.call('rpc.ping')).error, undefined, 'the other tab stays')
  await post(gw, '/api/disconnect', { userId: 'ada' })
  assert.deepEqual(await a2.closed, { code: 4000, reason: 'disconnected' })
})

test('HTTP control: a bad body is 400 with the reason, a missing or wrong key 401, and nothing changes', async (t) => {
  const gw = await gateway(t)
  const ada = await client(t, gw, { sub: 'ada' })
  const bad: Array<[string, unknown, RegExp]> = [
    ['/api/subscribe', { userId: 'ada' }, /room/],
    ['/api/subscribe', { userId: 'ada', room: 'a b' }, /room/],
    ['/api/subscribe', { userId: 'ada', connectionId: ada.connectionId, room: 'chat:1' }, /exactly one of userId and connectionId/],
    ['/api/subscribe', { room: 'chat:1' }, /exactly one of userId and connectionId/],
    ['/api/unsubscribe', { userId: 'ada', room: 'chat:1', extra: 1 }, /extra|additional/i],
    ['/api/disconnect', { userId: 'ada', code: 1006 }, /code/],
    ['/api/disconnect', { userId: 'ada', code: 2999 }, /code/],
    ['/api/disconnect', { userId: 'ada', reason: 'x'.repeat(200) }, /reason/],
    ['/api/revoke', {}, /exactly one of userId and jti/],
    ['/api/revoke', { jti: 'j', before: 1 }, /before goes with userId/],
    ['/api/revoke', { userId: 'ada', expiresAt: 1 }, /expiresAt must be in the future/],
    ['/api/revoke', { userId: 'ada', before: 'now' }, /before/]
  ]
  for (const [path, body, reason] of bad) {
    const res = await post(gw, path, body)
    const text = await res.text()
    assert.equal(res.status, 400, `${path} ${JSON.stringify(body)}: ${text}`)
    assert.match(JSON.parse(text).message, reason, `${path} ${JSON.stringify(body)}`)
  }
  for (const key of [null, 'wrong-key-0123456789abcdef', token({ sub: 'ada' })]) {
    for (const [path, body] of [['/api/subscribe', { userId: 'ada', room: 'chat:1' }], ['/api/disconnect', { userId: 'ada' }], ['/api/revoke', { userId: 'ada' }]] as const) {
      const res = await post(gw, path, body, key)
      assert.equal(res.status, 401, `${path} with ${String(key)}`)
    }
  }
  assert.equal((await post(gw, '/api/subscribe', { userId: 'ada' }, null)).status, 401, 'the key is checked before the body')
  // nothing happened to ada: not subscribed, not disconnected, not revoked
  assert.equal((await ada.call('rpc.presence', { room: 'chat:1' })).error?.code, -32003)
  assert.equal((await ada.call('rpc.auth', { token: token({ sub: 'ada' }) })).error, undefined)
  assert.equal(ada.ws.readyState, ada.ws.OPEN)
})

test('revoke: by user (tokens issued before) and by jti; open connections close with 4003, new ones are refused', async (t) => {
  const gw = await gateway(t)
  const old = await client(t, gw, { sub: 'ada' })
  const marked = await client(t, gw, { sub: 'bob', jti: 'stolen' })
  const other = await client(t, gw, { sub: 'bob', jti: 'fine' })
  const byHeader = await TestClient.connect(gw.url, { token: token({ sub: 'ada' }) })
  t.after(async () => await byHeader.close())

  const issuedBefore = token({ sub: 'ada' }) // a token made after the revocation could be of a later second
  await gw.app.ipc.revoke({ userId: 'ada' })
  assert.deepEqual(await old.closed, { code: 4003, reason: 'token revoked' })
  assert.deepEqual(await byHeader.closed, { code: 4003, reason: 'token revoked' })
  await assert.rejects(TestClient.connect(gw.url, { token: issuedBefore }), /HTTP 401/, 'a token of before is refused at upgrade')
  const again = await TestClient.connect(gw.url)
  t.after(async () => await again.close())
  assert.equal((await again.call('rpc.auth', { token: issuedBefore })).error?.code, -32001, 'and at rpc.auth')
  // iat is in whole seconds: a token of the next second is newer than the revocation
  await sleep(1000 - Date.now() % 1000 + 10)
  assert.equal((await again.call('rpc.auth', { token: token({ sub: 'ada' }) })).error, undefined, 'a token issued after the revocation')

  assert.equal((await post(gw, '/api/revoke', { jti: 'stolen' })).status, 200)
  assert.deepEqual(await marked.closed, { code: 4003, reason: 'token revoked' })
  assert.equal((await other.call('rpc.ping')).error, undefined, 'another token of the same user stays')
  // a refresh with the revoked token is refused; the connection keeps its identity
  assert.equal((await other.call('rpc.auth', { token: token({ sub: 'bob', jti: 'stolen' }) })).error?.code, -32001)
  assert.equal((await other.call('rpc.ping')).error, undefined)
})
