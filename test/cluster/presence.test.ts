// Presence across gateway processes: users and rooms are seen from every node, and a node killed
// with SIGKILL (no goodbye to Redis) drops out within one presence TTL.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import type { TestClient } from '../helper.js'
import { until } from '../helpers/processes.js'
import { type Cluster, connect, startCluster } from './cluster.js'

const TTL = 1500
let cluster: Cluster

before(async () => {
  cluster = await startCluster({ nodes: ['node-a', 'node-b'], env: { IPC_PRESENCE_TTL_MS: String(TTL) } })
})
after(async () => await cluster?.stop())

async function online (c: TestClient, users: string[]): Promise<Record<string, boolean>> {
  const res = await c.call('rpc.presence', { users })
  assert.equal(res.error, undefined, JSON.stringify(res.error))
  return res.result.online
}

async function room (c: TestClient, name: string): Promise<string[]> {
  const res = await c.call('rpc.presence', { room: name })
  assert.equal(res.error, undefined, JSON.stringify(res.error))
  assert.equal(res.result.count, res.result.users.length)
  return [...res.result.users].sort()
}

test('users and rooms are seen across nodes; a killed node is gone within one TTL', { timeout: 30000 }, async (t) => {
  const [a, b] = cluster.gateways
  const alice = await connect(t, a, 'alice', ['lobby'])
  const bob = await connect(t, b, 'bob', ['lobby'])
  await connect(t, a, 'dave') // dave is on both nodes
  await connect(t, b, 'dave', ['lobby'])
  const carol = await connect(t, b, 'carol')

  const everyone = { alice: true, bob: true, carol: true, dave: true, nobody: false }
  const users = Object.keys(everyone)
  // presence is written as connections authenticate and join: give it a moment, no more
  await until(async () => JSON.stringify(await online(alice, users)) === JSON.stringify(everyone), 2000, 'everyone online, seen from A')
  assert.deepEqual(await online(bob, users), everyone, 'seen from B')
  await until(async () => (await room(alice, 'lobby')).join() === 'alice,bob,dave', 2000, 'the lobby seen from A')
  assert.deepEqual(await room(bob, 'lobby'), ['alice', 'bob', 'dave'], 'the lobby seen from B')

  // A clean disconnect on B: offline from A at once (no TTL to wait for).
  await carol.close()
  await until(async () => !(await online(alice, ['carol'])).carol, 1000, 'carol offline after closing')

  // Still online after several refreshes: the entries are kept alive, not just written once.
  await new Promise(resolve => setTimeout(resolve, TTL * 1.5))
  assert.deepEqual(await online(alice, ['alice', 'bob', 'dave']), { alice: true, bob: true, dave: true })

  // B crashes: nothing tells Redis; its entries stop being refreshed and expire by score.
  await b.kill('SIGKILL')
  const killedAt = Date.now()
  await until(async () => !(await online(alice, ['bob'])).bob, TTL + 2000, 'bob offline')
  const took = Date.now() - killedAt
  // one TTL at most since B's last refresh, plus what polling and a loaded machine add
  t.diagnostic(`offline after ${took} ms`)
  assert.ok(took <= TTL + 500, `bob offline ${took} ms after the kill (TTL ${TTL} ms)`)
  assert.deepEqual(await online(alice, users), { alice: true, bob: false, carol: false, dave: true, nobody: false }, 'dave still has his connection on A')
  assert.deepEqual(await room(alice, 'lobby'), ['alice'], 'dave was in the lobby only from B')
})
