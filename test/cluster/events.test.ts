// Events across gateway processes: whoever publishes (a Publisher in this process, a worker's
// handler through ctx.publish, POST /api/publish on node A), every target gets them on whichever
// node its connections are, in order per target, and nobody else does. User targets keep history
// by default, so their events carry an offset and an epoch; the others carry neither.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { Publisher } from '../../src/worker/index.js'
import type { Frame } from '../helper.js'
import { methodListed } from '../helpers/processes.js'
import { type Cluster, connect, publishHttp, startCluster } from './cluster.js'

let cluster: Cluster
let publisher: Publisher

before(async () => {
  cluster = await startCluster({ nodes: ['node-a', 'node-b'], workers: [{ service: 'news' }] })
  publisher = new Publisher({ redis: cluster.redis.url })
  await methodListed(cluster.gateways, 'news.notify')
})
after(async () => {
  await publisher?.close()
  await cluster?.stop()
})

test('user, room, connection and everyone: reached across nodes from every kind of publisher', { timeout: 30000 }, async (t) => {
  const [a, b] = cluster.gateways
  const clients = {
    userOnA: await connect(t, a, 'u1'), // one user, a connection on each node
    userOnB: await connect(t, b, 'u1'),
    roomOnA: await connect(t, a, 'u2', ['r1']), // a room with members on both nodes
    roomOnB: await connect(t, b, 'u3', ['r1']),
    connOnB: await connect(t, b, 'u4'), // targeted by connection id
    otherOnA: await connect(t, a, 'u5', ['r2']), // only "everyone" is for them
    otherOnB: await connect(t, b, 'u6')
  }
  const caller = clients.otherOnA
  const targets = {
    user: { target: 'user:u1', to: ['userOnA', 'userOnB'] },
    room: { target: 'room:r1', to: ['roomOnA', 'roomOnB'] },
    conn: { target: `conn:${clients.connOnB.connectionId}`, to: ['connOnB'] },
    all: { target: 'all', to: Object.keys(clients) }
  }
  type Position = { offset?: string, epoch?: string }
  const publishers: Record<string, (target: string, event: string, data: unknown) => Promise<Position>> = {
    publisher: async (target, event, data) => await publisher.publish({ target, event, data }),
    handler: async (target, event, data) => {
      const res = await caller.call('news.notify', { target, event, data })
      assert.equal(res.error, undefined, JSON.stringify(res.error))
      return res.result
    },
    http: async (target, event, data) => {
      const res = await publishHttp(a, { target, event, data })
      assert.equal(res.status, 200)
      return await res.json() as Position
    }
  }

  const expected = new Map<string, string[]>(Object.keys(clients).map(name => [name, []]))
  const sent = new Map<string, { target: string, data: unknown, position: Position }>()
  for (const [source, publish] of Object.entries(publishers)) {
    for (const [kind, { target, to }] of Object.entries(targets)) {
      const event = `${source}.${kind}`
      const data = { source, kind, list: [1, 'two', null] }
      const position = await publish(target, event, data)
      if (kind === 'user') {
        assert.match(position.offset!, /^\d+-\d+$/, event)
        assert.match(position.epoch!, /^\d+$/, event)
      } else {
        assert.deepEqual(position, {}, event)
      }
      sent.set(event, { target, data, position })
      for (const name of to) expected.get(name)!.push(event)
    }
  }
  // Last, to every target: order holds per target, so a client has all it was meant to get once
  // the 'done' of each of its targets arrived (then a moment for anything that should not come).
  const mine = (name: string): string[] => Object.values(targets).filter(t => t.to.includes(name)).map(t => t.target)
  for (const { target } of Object.values(targets)) await publisher.publish({ target, event: 'done' })

  for (const [name, c] of Object.entries(clients)) {
    for (const _ of mine(name)) await c.event('done', 10000)
  }
  await new Promise(resolve => setTimeout(resolve, 200))
  for (const [name, c] of Object.entries(clients)) {
    const events = c.frames.filter((f: Frame) => f.method === 'rpc.event' && f.params.event !== 'done')
    assert.deepEqual(events.map(f => f.params.event).sort(), [...expected.get(name)!].sort(), `${name} got exactly its events`)
    for (const target of mine(name)) {
      const order = expected.get(name)!.filter(e => sent.get(e)!.target === target)
      assert.deepEqual(events.filter(f => f.params.target === target).map(f => f.params.event), order, `${name}: in order per target`)
    }
    for (const f of events) {
      const { target, data, position } = sent.get(f.params.event)!
      assert.deepEqual(f.params, { event: f.params.event, target, data, ...position }, name)
    }
  }
})
