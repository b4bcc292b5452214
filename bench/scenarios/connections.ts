// Many idle connections on a fresh server process: RSS per connection and connect(+auth) rate.
import { setTimeout as sleep } from 'node:timers/promises'
import { CpuMeter, rssBytes, StealMeter } from '../lib/proc-stats.js'
import type { LoadGroup } from '../lib/loaders.js'
import type { Row } from '../lib/result.js'
import { SECRET, type Server } from '../lib/servers.js'

export async function connectionsScenario (name: string, server: Server, group: LoadGroup, count: number, auth: 'none' | 'message'): Promise<Row> {
  await sleep(1000)
  const before = rssBytes(server.pid)
  const meter = new CpuMeter([server.pid])
  const clients = new CpuMeter(group.loaders.map(l => l.proc.child.pid!))
  const steal = new StealMeter()
  const c = await group.connect(server.url, count, { auth, secret: SECRET, concurrency: 100 })
  const cpu = meter.stop()
  const clientCpu = clients.stop()
  const stolen = steal.stop()
  // Let allocation settle (and a GC or two run) before reading RSS.
  await sleep(3000)
  const after = rssBytes(server.pid)
  await group.close()
  return {
    scenario: name,
    throughput: c.open / (c.ms / 1000),
    unit: 'conn/s',
    cpu,
    clientCpu,
    steal: stolen,
    rssMiB: after / 2 ** 20,
    connections: c.open,
    failed: c.failed,
    ...(c.firstError === undefined ? {} : { firstError: c.firstError }),
    bytesPerConnection: (after - before) / c.open
  }
}
