// CPU time and memory of a process from /proc (Linux): what the gateway costs, read from outside it.
import { readFileSync } from 'node:fs'

const TICKS_PER_SECOND = 100 // _SC_CLK_TCK on Linux

/** user + system CPU seconds a process has used so far */
export function cpuSeconds (pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // The command name (field 2) may hold spaces; fields after its closing parenthesis are fixed.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND
}

/** resident set size in bytes */
export function rssBytes (pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const m = /VmRSS:\s+(\d+) kB/.exec(status)
  return m === null ? NaN : Number(m[1]) * 1024
}

/** RSS in bytes of several processes together */
export function totalRss (pids: number[]): number {
  return pids.reduce((sum, pid) => sum + rssBytes(pid), 0)
}

/** CPU% (100 = one core) of a set of processes between start() and stop() */
export class CpuMeter {
  private readonly before: number[]
  private readonly startedAt = performance.now()

  constructor (private readonly pids: number[]) {
    this.before = pids.map(cpuSeconds)
  }

  stop (): number {
    const seconds = (performance.now() - this.startedAt) / 1000
    const used = this.pids.reduce((sum, pid, i) => sum + cpuSeconds(pid) - this.before[i], 0)
    return used / seconds * 100
  }
}

/** The machine's CPU ticks: all of them, and those stolen (`/proc/stat`: a hypervisor ran another guest). */
function machineTicks (): { total: number, steal: number } {
  // cpu  user nice system idle iowait irq softirq steal guest guest_nice (guest time is inside user)
  const v = readFileSync('/proc/stat', 'utf8').slice(0, 200).split('\n', 1)[0].trim().split(/\s+/).slice(1, 9).map(Number)
  return { total: v.reduce((a, b) => a + b, 0), steal: v[7] ?? 0 }
}

/**
 * Steal time in % of the machine's CPU time between start and stop: on a virtual machine, time its
 * vCPUs wanted to run and were not let. It slows every process of the bench alike and is the first
 * suspect when two runs disagree.
 */
export class StealMeter {
  private readonly before = machineTicks()

  stop (): number {
    const now = machineTicks()
    const total = now.total - this.before.total
    return total > 0 ? (now.steal - this.before.steal) / total * 100 : 0
  }
}
