// Presence events and server-side control across two gateway processes and a real Redis: joins and
// leaves said once per user whatever the tabs and nodes, a SIGKILLed node's users leaving within the
// presence TTL, a worker subscribing a user wherever it is connected, disconnect and revoke closing
// the right connections on both nodes, and a revoked token still refused by a restarted node.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import { API_KEY, TestClient, token } from '../helper.js'
import { type GatewayProcess, methodListed, startGatewayProcess, until } from '../helpers/processes.js'
import { type Cluster, connect, publishHttp, startCluster } from './cluster.js'

const TTL = 1500
const env = { IPC_PRESENCE_TTL_MS: String(TTL), IPC_PRESENCE_EVENT_ROOMS: 'chat:*' }
let cluster: Cluster

before(async () => {
  cluster = await startCluster({ nodes: ['node-a', 'node-b', 'node-c'], env, workers: [{ service: 'ctl' }] })
  await methodListed(cluster.gateways, 'ctl.control')
})
after(async () => await cluster?.stop())

type Client = Awaited<ReturnType<typeof connect>>

/** A client authenticated with exactly these claims (`connect` adds none but rooms). */
async function connectAs (t: { after: (fn: () => Promise<void>) => void }, gw: GatewayProcess, claims: Record<string, unknown>): Promise<Client> {
  const c = await TestClient.connect(gw.url)
  t.after(async () => await c.close())
  const auth = await c.call('rpc.auth', { token: token({ rooms: ['*'], ...claims }) })
  assert.equal(auth.error, undefined, JSON.stringify(auth.error))
  return Object.assign(c, { connectionId: auth.result.connectionId as string })
}

/** "join ada", "leave ada", ... heard so far about others than `self` */
const heard = (c: TestClient, self: string): string[] => c.frames
  .filter(f => f.method === 'rpc.event' && String(f.params.event).startsWith('presence.') && f.params.data.userId !== self)
  .map(f => `${(f.params.event as string).slice('presence.'.length)} ${f.params.data.userId as string}`)

const post = async (gw: GatewayProcess, path: string, body: unknown, key: string | null = API_KEY): Promise<Response> => await fetch(`${gw.http}${path}`, {
  method: 'POST',
  headers: { 'content-type': 'application/json', ...(key === null ? {} : { authorization: `Bearer ${key}` }) },
  body: JSON.stringify(body)
})

/** a control call made by a worker (ctx.publish), through a client of `gw` */
async function fromWorker (c: TestClient, op: string, body: unknown): Promise<void> {
  const res = await c.call('ctl.control', { op, body })
  assert.equal(res.error, undefined, JSON.stringify(res.error))
}

test('presence events: one join and one leave per user, whatever its tabs on whichever nodes', { timeout: 30000 }, async (t) => {
  const [a, b] = cluster.gateways
  const watcher = await connect(t, b, 'watcher', ['chat:1'])
  const adaTabs = [await connect(t, a, 'ada', ['chat:1']), await connect(t, a, 'ada', ['chat:1'])]
  const bobTabs = [await connect(t, a, 'bob', ['chat:1']), await connect(t, b, 'bob', ['chat:1'])]
  await until(() => heard(watcher, 'watcher').length >= 2, 3000, 'the joins on B')
  await sleep(300) // a second join, were there one, would have come by now
  assert.deepEqual(heard(watcher, 'watcher').sort(), ['join ada', 'join bob'])

  await adaTabs[0].close()
  await bobTabs[1].close()
  await sleep(300)
  assert.deepEqual(heard(watcher, 'watcher').length, 2, 'a user with a tab left is still there')
  await adaTabs[1].close()
  await bobTabs[0].close()
  await until(() => heard(watcher, 'watcher').length >= 4, 3000, 'the leaves on B')
  await sleep(300)
  assert.deepEqual(heard(watcher, 'watcher').slice(2).sort(), ['leave ada', 'leave bob'])
})

test('a SIGKILLed node\'s users leave within the presence TTL, said once', { timeout: 30000 }, async (t) => {
  const [a, b, c] = cluster.gateways
  const onA = await connect(t, a, 'watcher-a', ['chat:2'])
  const onB = await connect(t, b, 'watcher-b', ['chat:2'])
  await connect(t, c, 'dave', ['chat:2'])
  await connect(t, c, 'dave', ['chat:2'])
  await until(() => heard(onA, 'watcher-a').includes('join dave') && heard(onB, 'watcher-b').includes('join dave'), 3000, 'dave joining')
  await sleep(TTL) // a few refreshes: the entries live on while their node does
  assert.equal(heard(onA, 'watcher-a').filter(e => e.endsWith('dave')).length, 1)

  await c.kill('SIGKILL')
  const killedAt = Date.now()
  await until(() => heard(onA, 'watcher-a').includes('leave dave'), TTL + 3000, 'dave leaving, seen on A', 20)
  const took = Date.now() - killedAt
  t.diagnostic(`presence.leave ${took} ms after the kill (TTL ${TTL} ms)`)
  assert.ok(took <= TTL + 500, `dave left ${took} ms after the kill`)
  await until(() => heard(onB, 'watcher-b').includes('leave dave'), 1000, 'dave leaving, seen on B')
  await sleep(TTL / 2)
  for (const [w, self] of [[onA, 'watcher-a'], [onB, 'watcher-b']] as const) {
    assert.deepEqual(heard(w, self).filter(e => e.endsWith('dave')), ['join dave', 'leave dave'], `${self}: once each`)
  }
})

test('a user subscribed from a worker receives the room\'s next event on whichever node it is', { timeout: 30000 }, async (t) => {
  const [a, b] = cluster.gateways
  const caller = await connect(t, a, 'backend-user')
  const member = await connect(t, a, 'member', ['chat:3'])
  const eveB = await connect(t, b, 'eve')
  const eveA = await connect(t, a, 'eve')
  await fromWorker(caller, 'subscribe', { userId: 'eve', room: 'chat:3' })
  await until(async () => (await eveB.call('rpc.presence', { room: 'chat:3' })).error === undefined, 3000, 'eve in chat:3 on B')
  await until(async () => (await eveA.call('rpc.presence', { room: 'chat:3' })).error === undefined, 3000, 'eve in chat:3 on A')
  assert.deepEqual((await member.next(f => f.params?.event === 'presence.join' && f.params.data.userId === 'eve')).params.data, { room: 'chat:3', userId: 'eve' })
  assert.equal((await publishHttp(a, { target: 'room:chat:3', event: 'said', data: 'hi' })).status, 200)
  assert.equal((await eveB.event('said')).params.data, 'hi')
  assert.equal((await eveA.event('said')).params.data, 'hi')

  // one connection out again, from HTTP on the other node: the other stays
  assert.equal((await post(b, '/api/unsubscribe', { connectionId: eveA.connectionId, room: 'chat:3' })).status, 200)
  await until(async () => (await eveA.call('rpc.presence', { room: 'chat:3' })).error?.code === -32003, 3000, 'eve\'s tab on A out of chat:3')
  assert.equal((await eveB.call('rpc.presence', { room: 'chat:3' })).error, undefined)
  // 401 and 400 change nothing
  assert.equal((await post(a, '/api/unsubscribe', { userId: 'eve', room: 'chat:3' }, null)).status, 401)
  assert.equal((await post(a, '/api/unsubscribe', { userId: 'eve', connectionId: eveB.connectionId, room: 'chat:3' })).status, 400)
  assert.equal((await post(a, '/api/disconnect', { userId: 'eve' }, 'wrong-key-0123456789abcdef')).status, 401)
  await sleep(300)
  assert.equal((await eveB.call('rpc.presence', { room: 'chat:3' })).error, undefined, 'eve still in chat:3 on B')
  assert.equal(eveB.ws.readyState, eveB.ws.OPEN)
})

test('disconnect and revoke close the right connections on both nodes; a restarted node still refuses', { timeout: 60000 }, async (t) => {
  const [a, b] = cluster.gateways
  const caller = await connect(t, a, 'backend-user')
  const frank = [await connect(t, a, 'frank'), await connect(t, b, 'frank')]
  const gina = [await connect(t, a, 'gina'), await connect(t, b, 'gina')]
  assert.equal((await post(a, '/api/disconnect', { userId: 'frank', code: 1008, reason: 'banned' })).status, 200)
  for (const c of frank) assert.deepEqual(await c.closed, { code: 1008, reason: 'banned' })
  await fromWorker(caller, 'disconnect', { connectionId: gina[1].connectionId })
  assert.deepEqual(await gina[1].closed, { code: 4000, reason: 'disconnected' })
  assert.equal((await gina[0].call('rpc.ping')).error, undefined, 'gina\'s other connection stays')

  const hankToken = token({ sub: 'hank', rooms: ['*'] })
  const hank = [await connectAs(t, a, { sub: 'hank' }), await connectAs(t, b, { sub: 'hank' })]
  const ivyStolen = await connectAs(t, b, { sub: 'ivy', jti: 'stolen' })
  const ivyFine = await connectAs(t, a, { sub: 'ivy', jti: 'fine' })
  await fromWorker(caller, 'revoke', { userId: 'hank' })
  for (const c of hank) assert.deepEqual(await c.closed, { code: 4003, reason: 'token revoked' })
  assert.equal((await post(a, '/api/revoke', { jti: 'stolen', expiresAt: Date.now() + 60000 })).status, 200)
  assert.deepEqual(await ivyStolen.closed, { code: 4003, reason: 'token revoked' })
  assert.equal((await ivyFine.call('rpc.ping')).error, undefined, 'ivy\'s other token stands')

  // B restarts: it learns the revocations from Redis, not from what it heard
  await b.kill('SIGKILL')
  const b2 = await startGatewayProcess({ REDIS_URL: cluster.redis.url, IPC_NODE_ID: 'node-b', IPC_PORT: String(b.port), ...env })
  t.after(async () => await b2.kill())
  await assert.rejects(TestClient.connect(b2.url, { token: hankToken }), /HTTP 401/, 'hank\'s old token at the upgrade')
  const again = await TestClient.connect(b2.url)
  t.after(async () => await again.close())
  assert.equal((await again.call('rpc.auth', { token: token({ sub: 'ivy', jti: 'stolen' }) })).error?.code, -32001, 'the stolen jti at rpc.auth')
  assert.equal((await again.call('rpc.auth', { token: token({ sub: 'ivy', jti: 'fine' }) })).error, undefined, 'another jti passes')
})

test('a revocation a node could not hear (cut off from Redis) closes its connections once it is back', { timeout: 30000 }, async (t) => {
  const [a] = cluster.gateways
  const zoe = await connectAs(t, a, { sub: 'zoe' })
  const other = await connectAs(t, a, { sub: 'yan' })
  const redis = new Redis(cluster.redis.url)
  t.after(() => redis.disconnect())
  // stored as a publisher stores it, but the channel's message never sent: as if A missed it
  await redis.set('ipc:revoked:user:zoe', String(Date.now()), 'PX', 60000)
  await sleep(200)
  assert.equal((await zoe.call('rpc.ping')).error, undefined, 'nothing told A yet')
  await redis.client('KILL', 'TYPE', 'normal', 'SKIPME', 'yes') // every node loses Redis for a moment
  assert.deepEqual(await zoe.closed, { code: 4003, reason: 'token revoked' })
  assert.equal((await other.call('rpc.ping')).error, undefined)
})
