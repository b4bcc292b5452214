// One event to every connection: deliveries/s with at most `window` events on their way at once
// (so no socket buffer grows without bound), and publish-to-receive latency of every delivery.
import { setTimeout as sleep } from 'node:timers/promises'
import { CpuMeter, StealMeter, totalRss } from '../lib/proc-stats.js'
import type { LoadGroup } from '../lib/loaders.js'
import { type Row, latency } from '../lib/result.js'
import { SECRET, type Server } from '../lib/servers.js'
import { nowMs } from '../lib/stats.js'

export interface BroadcastPlan { connections: number, window: number, warmupEvents: number, durationMs: number }

/** `user`: every connection is that one user, and events go to `user:<user>` rather than `all` */
export interface BroadcastTarget { user?: string }

const TEXT = 'the quick brown fox jumps over the lazy dog'

export async function broadcastScenario (name: string, servers: Server[], group: LoadGroup, plan: BroadcastPlan, auth: 'none' | 'header', { user }: BroadcastTarget = {}): Promise<Row> {
  // Receivers are spread over the nodes; events are published on the first one.
  const c = await group.connect(servers.map(s => s.url), plan.connections, { auth, secret: SECRET, user })
  if (c.failed > 0) throw new Error(`${name}: ${c.failed} connections failed: ${c.firstError ?? ''}`)
  try {
    await sleep(500)
    // connected, authenticated, nothing sent yet: what idle connections hold
    const idleRssMiB = totalRss(servers.map(s => s.pid)) / 2 ** 20
    return { ...await run(name, servers, group, plan, c.open, user === undefined ? 'all' : `user:${user}`), idleRssMiB }
  } finally {
    for (const l of group.loaders) l.onDone = null
    await group.close()
  }
}

async function run (name: string, servers: Server[], group: LoadGroup, plan: BroadcastPlan, open: number, target: string): Promise<Row> {
  const loaders = group.loaders.length
  const doneBy = new Map<number, number>()
  let outstanding = 0
  let lastDone = 0
  let wake: (() => void) | null = null
  for (const l of group.loaders) {
    l.onDone = seq => {
      const n = (doneBy.get(seq) ?? 0) + 1
      doneBy.set(seq, n)
      if (n === loaders) {
        outstanding--
        lastDone = performance.now()
        wake?.()
      }
    }
  }
  const waitForRoom = async (limit: number, timeoutMs: number): Promise<boolean> => {
    const until = performance.now() + timeoutMs
    while (outstanding > limit) {
      const left = until - performance.now()
      if (left <= 0) return false
      await new Promise<void>(resolve => {
        const t = setTimeout(resolve, left)
        wake = () => { clearTimeout(t); resolve() }
      })
      wake = null
    }
    return true
  }

  await group.listen(plan.warmupEvents)
  let seq = 0
  let started = 0
  let meter: CpuMeter | null = null
  let clients: CpuMeter | null = null
  let steal: StealMeter | null = null
  let stalled = false
  while (true) {
    if (seq === plan.warmupEvents) {
      started = performance.now()
      meter = new CpuMeter(servers.map(s => s.pid))
      clients = new CpuMeter(group.loaders.map(l => l.proc.child.pid!))
      steal = new StealMeter()
    }
    if (seq > plan.warmupEvents && performance.now() - started > plan.durationMs) break
    if (!await waitForRoom(plan.window - 1, 10000)) { stalled = true; break }
    outstanding++
    await servers[0].publish(`{"seq":${seq},"ts":${nowMs().toFixed(3)},"text":"${TEXT}"}`, target)
    seq++
  }
  if (!stalled && !await waitForRoom(0, 10000)) stalled = true
  const cpu = meter!.stop()
  const clientCpu = clients!.stop()
  const stolen = steal!.stop()
  const { received, hist } = await group.stopListening()
  const seconds = (lastDone - started) / 1000
  return {
    scenario: name,
    throughput: received / seconds,
    unit: 'deliveries/s',
    ...latency(hist),
    cpu,
    clientCpu,
    steal: stolen,
    rssMiB: totalRss(servers.map(s => s.pid)) / 2 ** 20,
    connections: open,
    events: seq - plan.warmupEvents,
    expected: (seq - plan.warmupEvents) * open,
    received,
    ...(stalled ? { note: 'stalled: some deliveries never arrived' } : {})
  }
}
