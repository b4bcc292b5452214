// RPC throughput (closed loop: every connection keeps `inFlight` calls outstanding) and, optionally,
// latency at a fixed offered rate.
import { CpuMeter, rssBytes, StealMeter } from '../lib/proc-stats.js'
import type { LoadGroup } from '../lib/loaders.js'
import { type Row, latency } from '../lib/result.js'
import { SECRET, type Server } from '../lib/servers.js'

export interface RpcPlan { connections: number, inFlight: number, warmupMs: number, durationMs: number }

export async function rpcScenario (name: string, servers: Server[], extraPids: Record<string, number[]>, group: LoadGroup, method: string, plan: RpcPlan, auth: 'none' | 'header'): Promise<Row> {
  const c = await group.connect(servers[0].url, plan.connections, { auth, secret: SECRET })
  if (c.failed > 0) throw new Error(`${name}: ${c.failed} connections failed: ${c.firstError ?? ''}`)
  try {
    return await measure(name, servers, extraPids, group, { method, inFlight: plan.inFlight, warmupMs: plan.warmupMs, durationMs: plan.durationMs })
  } finally {
    await group.close()
  }
}

/** Runs one rpc phase on already open connections. */
export async function measure (name: string, servers: Server[], extraPids: Record<string, number[]>, group: LoadGroup, cmd: { method: string, inFlight: number, warmupMs: number, durationMs: number, rate?: number }): Promise<Row> {
  const pids = servers.map(s => s.pid)
  let meter: CpuMeter | null = null
  let extra: Array<[string, CpuMeter]> = []
  let clients: CpuMeter | null = null
  let steal: StealMeter | null = null
  // CPU is measured over the measured window only, after the warm-up.
  const timer = setTimeout(() => {
    meter = new CpuMeter(pids)
    extra = Object.entries(extraPids).map(([k, pids]) => [k, new CpuMeter(pids)])
    clients = new CpuMeter(group.loaders.map(l => l.proc.child.pid!))
    steal = new StealMeter()
  }, cmd.warmupMs)
  const r = await group.rpc(cmd)
  clearTimeout(timer)
  const cpu = (meter as CpuMeter | null)?.stop()
  const extraCpu = Object.fromEntries(extra.map(([k, m]) => [k, m.stop()]))
  const clientCpu = (clients as CpuMeter | null)?.stop()
  const stolen = (steal as StealMeter | null)?.stop()
  return {
    scenario: name,
    throughput: r.rate,
    unit: 'calls/s',
    ...latency(r.hist),
    cpu,
    rssMiB: pids.reduce((s, p) => s + rssBytes(p), 0) / 2 ** 20,
    clientCpu,
    steal: stolen,
    errors: r.errors,
    ...(r.firstError === undefined ? {} : { firstError: r.firstError }),
    ...extraCpu
  }
}
