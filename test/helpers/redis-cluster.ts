// A real Redis Cluster of three masters per test file, each node a redis-server on a free port
// (startRedis), joined with `redis-cli --cluster create`. Fails loudly without redis-cli.
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { Cluster, Redis } from 'ioredis'
import { serverGroup } from './redis.js'

export interface TestCluster {
  nodes: Array<{ host: string, port: number }>
  /** a new client of the whole cluster (the caller quits it) */
  client (): Cluster
  stop (): Promise<void>
}

export async function startCluster (size = 3): Promise<TestCluster> {
  // each node writes its cluster state file in the group's directory
  const group = await serverGroup('ipc-cluster-')
  const { stop } = group
  try {
    for (let i = 0; i < size; i++) await group.start(['--cluster-enabled', 'yes', '--cluster-config-file', join(group.dir, `nodes-${i}.conf`)])
    const nodes = group.servers.map(s => ({ host: '127.0.0.1', port: s.port }))
    await promisify(execFile)('redis-cli', ['--cluster', 'create', ...nodes.map(n => `${n.host}:${n.port}`), '--cluster-replicas', '0', '--cluster-yes'])
      .catch((err: Error) => { throw new Error(`redis-cli --cluster create failed (redis-cli comes with redis-server's package): ${err.message}`) })
    await untilReady(nodes)
    return { nodes, client: () => new Cluster(nodes), stop }
  } catch (err) {
    await stop()
    throw err
  }
}

/** Until every node says the cluster is ok (slots assigned and agreed on). */
async function untilReady (nodes: Array<{ host: string, port: number }>): Promise<void> {
  const until = Date.now() + 20000
  for (const node of nodes) {
    const r = new Redis(node.port, node.host)
    try {
      while (!String(await r.call('CLUSTER', 'INFO')).includes('cluster_state:ok')) {
        if (Date.now() > until) throw new Error(`the cluster did not become ready (node ${node.port})`)
        await new Promise(resolve => setTimeout(resolve, 100))
      }
    } finally {
      r.disconnect()
    }
  }
}
