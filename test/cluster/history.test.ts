// History and recovery across gateway processes (docs/protocol.md §4, §5, §9): a client that lost its
// connection recovers the room and user events it missed on the other node, none twice and in order,
// even while events keep coming; a lost history (FLUSHALL, trimmed) is told, never replayed wrongly;
// a node subscribes to a target's channel only while it has a member there.
import { setTimeout as sleep } from 'node:timers/promises'
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { Redis } from 'ioredis'
import { Publisher } from '../../src/worker/index.js'
import { type Frame, TestClient, token } from '../helper.js'
import { type Cluster, publishHttp, startCluster } from './cluster.js'

let cluster: Cluster
let publisher: Publisher
let raw: Redis

before(async () => {
  cluster = await startCluster({ nodes: ['node-a', 'node-b'], env: { IPC_HISTORY_ROOMS: 'chat:*', IPC_HISTORY_SIZE: '50' } })
  publisher = new Publisher({ redis: cluster.redis.url })
  raw = new Redis(cluster.redis.url)
})
after(async () => {
  raw?.disconnect()
  await publisher?.close()
  await cluster?.stop()
})

interface Position { offset: string, epoch: string }

async function client (t: { after: (fn: () => Promise<void>) => void }, node: number): Promise<TestClient> {
  const c = await TestClient.connect(cluster.gateways[node].url)
  t.after(async () => await c.close())
  return c
}

const ok = (f: Frame): any => {
  assert.equal(f.error, undefined, JSON.stringify(f.error))
  return f.result
}

/** the events (by `n` in their data) that arrived for `target` */
const numbers = (c: TestClient, target: string): number[] =>
  c.frames.filter(f => f.method === 'rpc.event' && f.params.target === target).map(f => f.params.data.n)

async function until (check: () => boolean, what: string, ms = 10000): Promise<void> {
  const end = Date.now() + ms
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await sleep(20)
  }
}

test('a client recovers the room and user events it missed, on the other node, after the answer and in order', { timeout: 30000 }, async (t) => {
  const first = await client(t, 0)
  const auth = ok(await first.call('rpc.auth', { token: token({ sub: 'ada', rooms: ['*'] }) }))
  assert.match(auth.offset, /^\d+-\d+$/)
  const joined = ok(await first.call('rpc.join', { room: 'chat:1' }))
  assert.equal(joined.room, 'chat:1')
  assert.equal(joined.recovered, undefined)
  await publisher.toRoom('chat:1', 'said', { n: 1 })
  await publisher.toUser('ada', 'note', { n: 1 })
  const room1 = (await first.event('said')).params
  const user1 = (await first.event('note')).params
  assert.deepEqual(Object.keys(room1).sort(), ['data', 'epoch', 'event', 'offset', 'target'])
  await first.close()

  // missed while away: from a Publisher, from /api/publish on node A
  await publisher.toRoom('chat:1', 'said', { n: 2 })
  assert.equal((await publishHttp(cluster.gateways[0], { target: 'room:chat:1', event: 'said', data: { n: 3 } })).status, 200)
  await publisher.toUser('ada', 'note', { n: 2 })
  await publisher.toUser('ada', 'note', { n: 3 })

  const again = await client(t, 1)
  const seq: string[] = [] // every frame's kind, in the order it arrived
  again.ws.on('message', data => { const f = JSON.parse(data.toString()) as Frame; seq.push(f.method ?? 'answer') })
  const reauth = ok(await again.call('rpc.auth', { token: token({ sub: 'ada', rooms: ['*'] }), recover: { offset: user1.offset, epoch: user1.epoch } }))
  assert.equal(reauth.recovered, true)
  assert.equal(reauth.epoch, user1.epoch)
  const rejoin = ok(await again.call('rpc.join', ['chat:1', { offset: room1.offset, epoch: room1.epoch }]))
  assert.equal(rejoin.recovered, true)
  await publisher.toRoom('chat:1', 'said', { n: 4 })
  await until(() => numbers(again, 'room:chat:1').length >= 3 && numbers(again, 'user:ada').length >= 2, 'recovered events')
  await sleep(200)
  assert.deepEqual(numbers(again, 'room:chat:1'), [2, 3, 4])
  assert.deepEqual(numbers(again, 'user:ada'), [2, 3])
  // each answer came before the events it recovered
  assert.deepEqual(seq.slice(0, 4), ['answer', 'rpc.event', 'rpc.event', 'answer'], JSON.stringify(seq))
  assert.equal(rejoin.offset > room1.offset, true)
})

test('joining with recover while events keep coming: no gap, no duplicate', { timeout: 30000 }, async (t) => {
  const c = await client(t, 1)
  ok(await c.call('rpc.auth', { token: token({ sub: 'bob', rooms: ['*'] }) }))
  // the position before the flow starts
  const start: Position = ok(await c.call('rpc.join', { room: 'chat:flow' }))
  ok(await c.call('rpc.leave', { room: 'chat:flow' }))
  c.frames.length = 0
  const total = 400
  let sent = 0
  const flow = (async () => {
    while (sent < total) {
      await Promise.all(Array.from({ length: 10 }, async () => await publisher.toRoom('chat:flow', 'tick', { n: ++sent })))
      await sleep(5)
    }
  })()
  await until(() => sent >= 20, 'the flow to start')
  const res = ok(await c.call('rpc.join', { room: 'chat:flow', recover: { offset: start.offset, epoch: start.epoch } }))
  assert.equal(res.recovered, true)
  await flow
  await until(() => numbers(c, 'room:chat:flow').length >= total, 'every event', 15000)
  await sleep(200)
  const got = numbers(c, 'room:chat:flow')
  assert.equal(got.length, total, 'none twice')
  assert.deepEqual([...got].sort((a, b) => a - b), Array.from({ length: total }, (_, i) => i + 1), 'none missing')
  const offsets = c.frames.filter(f => f.method === 'rpc.event').map(f => f.params.offset as string)
  const ids = offsets.map(o => o.split('-').map(Number))
  for (let i = 1; i < ids.length; i++) {
    assert.ok(ids[i][0] > ids[i - 1][0] || (ids[i][0] === ids[i - 1][0] && ids[i][1] > ids[i - 1][1]), `in order at ${i}`)
  }
})

test('an offset trimmed out of the history, and a flushed Redis, answer recovered: false with the current position', { timeout: 30000 }, async (t) => {
  const c = await client(t, 0)
  ok(await c.call('rpc.auth', { token: token({ sub: 'cy', rooms: ['*'] }) }))
  ok(await c.call('rpc.join', { room: 'chat:busy' }))
  await publisher.toRoom('chat:busy', 'x', { n: 0 })
  const old = (await c.event('x')).params
  ok(await c.call('rpc.leave', { room: 'chat:busy' }))
  for (let i = 1; i <= 60; i++) await publisher.toRoom('chat:busy', 'x', { n: i }) // historySize 50
  c.frames.length = 0
  const trimmed = ok(await c.call('rpc.join', { room: 'chat:busy', recover: { offset: old.offset, epoch: old.epoch } }))
  assert.equal(trimmed.recovered, false)
  assert.equal(trimmed.epoch, old.epoch)
  const newest = await raw.xrevrange('ipc:history:{room:chat:busy}', '+', '-', 'COUNT', 1)
  assert.equal(trimmed.offset, newest[0][0])
  await sleep(200)
  assert.deepEqual(numbers(c, 'room:chat:busy'), [], 'nothing replayed')

  await raw.flushall()
  ok(await c.call('rpc.leave', { room: 'chat:busy' }))
  const flushed = ok(await c.call('rpc.join', { room: 'chat:busy', recover: { offset: trimmed.offset, epoch: trimmed.epoch } }))
  assert.equal(flushed.recovered, false)
  assert.notEqual(flushed.epoch, trimmed.epoch)
  assert.equal(flushed.offset, '0-0')
  await publisher.toRoom('chat:busy', 'x', { n: 99 })
  const next = (await c.event('x')).params
  assert.equal(next.epoch, flushed.epoch, 'events carry the new epoch')
  assert.deepEqual(numbers(c, 'room:chat:busy'), [], 'nothing replayed')
})

test('a node subscribes to a target only while it has a member there', { timeout: 30000 }, async (t) => {
  const channels = async (): Promise<string[]> => (await raw.call('PUBSUB', 'SHARDCHANNELS', 'ipc:ev:*') as string[]).sort()
  const c = await client(t, 0)
  const { connectionId } = ok(await c.call('rpc.auth', { token: token({ sub: 'dee', rooms: ['*'] }) }))
  ok(await c.call('rpc.join', { room: 'lonely' }))
  const mine = ['ipc:ev:{room:lonely}', 'ipc:ev:{user:dee}', `ipc:ev:{conn:${connectionId as string}}`]
  for (const ch of mine) assert.ok((await channels()).includes(ch), ch)
  assert.ok((await channels()).includes('ipc:ev:{all}'))
  ok(await c.call('rpc.leave', { room: 'lonely' }))
  await until(() => true, '')
  await sleep(100)
  assert.ok(!(await channels()).includes('ipc:ev:{room:lonely}'), 'unsubscribed when the last member left')
  await c.close()
  await sleep(300)
  const left = await channels()
  for (const ch of mine) assert.ok(!left.includes(ch), ch)
  // an event without a member anywhere reaches no node
  const numsub = await raw.call('PUBSUB', 'SHARDNUMSUB', 'ipc:ev:{room:lonely}') as [string, number]
  assert.equal(Number(numsub[1]), 0)
})

test('a node whose subscriber link dropped recovers its history targets from the last offset it delivered', { timeout: 30000 }, async (t) => {
  const c = await client(t, 1)
  ok(await c.call('rpc.auth', { token: token({ sub: 'eve', rooms: ['*'] }) }))
  ok(await c.call('rpc.join', { room: 'chat:link' }))
  await publisher.toRoom('chat:link', 'n', { n: 0 })
  await c.event('n')
  // cut node B's subscriber connection; publish while it is away
  const killed = await raw.call('CLIENT', 'KILL', 'TYPE', 'pubsub') as number
  assert.ok(Number(killed) >= 1)
  for (let n = 1; n <= 20; n++) await publisher.toRoom('chat:link', 'n', { n })
  await until(() => numbers(c, 'room:chat:link').length >= 20, 'the events of the gap')
  await sleep(200)
  assert.deepEqual(numbers(c, 'room:chat:link'), Array.from({ length: 20 }, (_, i) => i + 1), 'all of them, once, in order')
})
