// Rooms, events, presence and progress (docs/protocol.md §3, §4 and §5).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import Type from 'typebox'
import type { Identity } from '../../src/index.js'
import { API_KEY, startGateway, TestClient, token } from '../helper.js'

/** Connects and authenticates by rpc.auth; resolves with the client and its connection id. */
async function login (url: string, claims: Record<string, unknown>): Promise<{ client: TestClient, connectionId: string }> {
  const client = await TestClient.connect(url)
  const res = await client.call('rpc.auth', { token: token(claims) })
  return { client, connectionId: res.result.connectionId }
}

/** Asserts that no `rpc.event` frame of that name arrives within `ms`. */
async function none (client: TestClient, name: string, ms = 50): Promise<void> {
  await assert.rejects(client.event(name, ms), /no matching frame/)
}

test('join: allowed by the JWT rooms claim, publicRooms or canJoin; denied otherwise', async (t) => {
  const asked: Array<[string, string]> = []
  const gw = await startGateway({
    publicRooms: ['lobby', 'news:*'],
    canJoin: async (identity: Identity, room: string) => { asked.push([identity.userId, room]); return room === `private:${identity.userId}` }
  })
  t.after(() => gw.close())
  const client = await TestClient.connect(gw.url, { token: token({ sub: '42', rooms: ['orders:*', 'team'] }) })
  t.after(() => client.close())
  for (const room of ['orders:1', 'orders:', 'team', 'lobby', 'news:today', 'private:42']) {
    assert.deepEqual((await client.call('rpc.join', { room })).result, { room }, room)
  }
  for (const room of ['order:1', 'teams', 'team:x', 'lobby2', 'news', 'private:43']) {
    assert.equal((await client.call('rpc.join', { room })).error?.code, -32003, room)
  }
  assert.deepEqual(asked.map(([, room]) => room), ['private:42', 'order:1', 'teams', 'team:x', 'lobby2', 'news', 'private:43'], 'canJoin is asked only when nothing else allows')
  assert.deepEqual((await client.call('rpc.join', { room: 'orders:1' })).result, { room: 'orders:1' }, 'joining twice is fine')
  assert.deepEqual((await client.call('rpc.leave', { room: 'orders:1' })).result, { room: 'orders:1' })
  assert.deepEqual((await client.call('rpc.leave', { room: 'never' })).result, { room: 'never' }, 'leaving a room you are not in is fine')
})

test('join: at most maxRoomsPerConnection rooms', async (t) => {
  const gw = await startGateway({ maxRoomsPerConnection: 2 })
  t.after(() => gw.close())
  const client = await TestClient.connect(gw.url, { token: token({ sub: '1', rooms: ['*'] }) })
  t.after(() => client.close())
  assert.ok((await client.call('rpc.join', { room: 'a' })).result)
  assert.ok((await client.call('rpc.join', { room: 'b' })).result)
  assert.equal((await client.call('rpc.join', { room: 'c' })).error?.code, -32003)
  await client.call('rpc.leave', { room: 'a' })
  assert.ok((await client.call('rpc.join', { room: 'c' })).result)
})

test('events to user:<id> reach every connection of that user and nobody else', async (t) => {
  const gw = await startGateway()
  t.after(() => gw.close())
  const a1 = await TestClient.connect(gw.url, { token: token({ sub: 'alice' }) })
  const a2 = (await login(gw.url, { sub: 'alice' })).client
  const bob = await TestClient.connect(gw.url, { token: token({ sub: 'bob' }) })
  const pending = await TestClient.connect(gw.url)
  t.after(() => Promise.all([a1, a2, bob, pending].map(c => c.close())))
  const position = await gw.app.ipc.publish({ target: 'user:alice', event: 'note', data: { text: 'hi' } })
  for (const c of [a1, a2]) {
    assert.deepEqual((await c.event('note')).params, { event: 'note', data: { text: 'hi' }, target: 'user:alice', ...position })
  }
  await none(bob, 'note')
  await none(pending, 'note')
})

test('events to room:<name> reach its members until they leave or disconnect', async (t) => {
  const gw = await startGateway({ publicRooms: ['chat:*'] })
  t.after(() => gw.close())
  const a = await TestClient.connect(gw.url, { token: token({ sub: 'a' }) })
  const b = await TestClient.connect(gw.url, { token: token({ sub: 'b' }) })
  const outsider = await TestClient.connect(gw.url, { token: token({ sub: 'c' }) })
  t.after(() => Promise.all([a, b, outsider].map(c => c.close())))
  await a.call('rpc.join', { room: 'chat:1' })
  await b.call('rpc.join', { room: 'chat:1' })
  await outsider.call('rpc.join', { room: 'chat:2' })
  await gw.app.ipc.publish({ target: 'room:chat:1', event: 'msg', data: 1 })
  assert.equal((await a.event('msg')).params.target, 'room:chat:1')
  await b.event('msg')
  await none(outsider, 'msg')
  await b.call('rpc.leave', { room: 'chat:1' })
  await a.close()
  await sleep(20)
  await gw.app.ipc.publish({ target: 'room:chat:1', event: 'msg2', data: 2 })
  await none(b, 'msg2')
})

test('events to conn:<id> reach that one connection; to all, every authenticated one', async (t) => {
  const gw = await startGateway()
  t.after(() => gw.close())
  const one = await login(gw.url, { sub: 'u' })
  const two = await login(gw.url, { sub: 'u' })
  const service = await TestClient.connect(gw.url, { auth: API_KEY })
  const pending = await TestClient.connect(gw.url)
  t.after(() => Promise.all([one.client, two.client, service, pending].map(c => c.close())))
  await gw.app.ipc.publish({ target: `conn:${one.connectionId}`, event: 'direct', data: 'x' })
  assert.equal((await one.client.event('direct')).params.target, `conn:${one.connectionId}`)
  await none(two.client, 'direct')
  await gw.app.ipc.publish({ target: 'all', event: 'broadcast', data: null })
  for (const c of [one.client, two.client, service]) assert.deepEqual((await c.event('broadcast')).params, { event: 'broadcast', data: null, target: 'all' })
  await none(pending, 'broadcast')
})

test('exclude: the excluded connection does not receive the event (e.g. its own chat message)', async (t) => {
  const gw = await startGateway({ publicRooms: ['room'] }, app => {
    app.ipc.method('chat.say', { params: Type.Object({ text: Type.String() }) }, async ({ text }, ctx) => {
      await ctx.publish({ target: 'room:room', event: 'said', data: { text, from: ctx.caller.userId }, exclude: ctx.caller.connectionId })
      return { ok: true }
    })
  })
  t.after(() => gw.close())
  const a = await TestClient.connect(gw.url, { token: token({ sub: 'a' }) })
  const b = await TestClient.connect(gw.url, { token: token({ sub: 'b' }) })
  t.after(() => Promise.all([a, b].map(c => c.close())))
  await a.call('rpc.join', { room: 'room' })
  await b.call('rpc.join', { room: 'room' })
  assert.deepEqual((await a.call('chat.say', { text: 'hello' })).result, { ok: true })
  assert.deepEqual((await b.event('said')).params.data, { text: 'hello', from: 'a' })
  await none(a, 'said')
})

test('publish refuses a malformed target', async (t) => {
  const gw = await startGateway()
  t.after(() => gw.close())
  await assert.rejects(gw.app.ipc.publish({ target: 'users:1', event: 'x' }), (err: { code: number }) => err.code === -32602)
  await assert.rejects(gw.app.ipc.publish({ target: 'all', event: '' }), (err: { code: number }) => err.code === -32602)
})

test('presence: members of a room you are in, and who is online', async (t) => {
  const gw = await startGateway({ publicRooms: ['lobby'] })
  t.after(() => gw.close())
  const a1 = await TestClient.connect(gw.url, { token: token({ sub: 'a' }) })
  const a2 = await TestClient.connect(gw.url, { token: token({ sub: 'a' }) })
  const b = await TestClient.connect(gw.url, { token: token({ sub: 'b' }) })
  t.after(() => Promise.all([a1, a2, b].map(c => c.close())))
  await a1.call('rpc.join', { room: 'lobby' })
  await a2.call('rpc.join', { room: 'lobby' })
  await b.call('rpc.join', { room: 'lobby' })
  const room = (await a1.call('rpc.presence', { room: 'lobby' })).result
  assert.equal(room.room, 'lobby')
  assert.equal(room.count, 2, 'users, not connections')
  assert.deepEqual([...room.users].sort(), ['a', 'b'])
  assert.deepEqual((await b.call('rpc.presence', { users: ['a', 'b', 'nobody'] })).result, { online: { a: true, b: true, nobody: false } })

  await b.close()
  await a1.close()
  await sleep(30)
  assert.deepEqual((await a2.call('rpc.presence', { room: 'lobby' })).result, { room: 'lobby', count: 1, users: ['a'] })
  assert.deepEqual((await a2.call('rpc.presence', { users: ['a', 'b'] })).result, { online: { a: true, b: false } }, 'a is still online through a2')
  await a2.call('rpc.leave', { room: 'lobby' })
  assert.equal((await a2.call('rpc.presence', { room: 'lobby' })).error?.code, -32003)
  assert.equal((await a2.call('rpc.presence', {})).error?.code, -32602)
})

test('progress: rpc.progress frames carry the request id and come before the answer', async (t) => {
  const gw = await startGateway({}, app => {
    app.ipc.method('job.run', { params: Type.Object({ steps: Type.Integer() }) }, async ({ steps }, ctx) => {
      for (let i = 1; i <= steps; i++) {
        ctx.progress({ step: i })
        await sleep(1)
      }
      return { done: steps }
    })
  })
  t.after(() => gw.close())
  const client = await TestClient.connect(gw.url, { token: token({ sub: '1' }) })
  t.after(() => client.close())
  const order: string[] = []
  client.ws.on('message', data => {
    const f = JSON.parse(data.toString())
    order.push(f.method === 'rpc.progress' ? `progress:${f.params.data.step as number}` : 'answer')
  })
  assert.deepEqual((await client.call('job.run', { steps: 3 }, 'job-1')).result, { done: 3 })
  assert.deepEqual(order, ['progress:1', 'progress:2', 'progress:3', 'answer'])
  const progress = client.frames.filter(f => f.method === 'rpc.progress')
  assert.deepEqual(progress.map(f => f.params), [1, 2, 3].map(step => ({ id: 'job-1', data: { step } })))
})
