// The table, the targets of issue 5 with PASS/FAIL, and bench/results.json.
import { writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import type { Row } from './result.js'

/** `pass: null` with `info`: a figure printed for information, not a target of issue 5 */
export interface Target { target: string, measured: string, pass: boolean | null, info?: boolean }

const fmt = (n: number | undefined, digits = 0): string => n === undefined || Number.isNaN(n) ? '-' : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })

export function table (rows: Row[]): string {
  const head = ['scenario', 'throughput', 'unit', 'p50 ms', 'p95 ms', 'p99 ms', 'CPU %', 'load CPU %', 'steal %', 'RSS MiB', 'notes']
  const body = rows.map(r => [
    r.scenario, fmt(r.throughput), r.unit, fmt(r.p50, 2), fmt(r.p95, 2), fmt(r.p99, 2), fmt(r.cpu), fmt(r.clientCpu as number | undefined), fmt(r.steal), fmt(r.rssMiB, 1),
    [
      typeof r.bytesPerConnection === 'number' ? `${fmt(r.bytesPerConnection / 1024, 1)} KiB/conn` : '',
      typeof r.errors === 'number' && r.errors > 0 ? `${r.errors} errors` : '',
      typeof r.workerCpu === 'number' ? `worker CPU ${fmt(r.workerCpu)}%, redis CPU ${fmt(r.redisCpu as number)}%` : '',
      typeof r.received === 'number' && typeof r.expected === 'number' && r.received !== r.expected ? `${r.received}/${r.expected} delivered` : '',
      r.note ?? ''
    ].filter(Boolean).join('; ')
  ])
  return render(head, body)
}

export function targetsTable (targets: Target[]): string {
  return render(['target', 'measured', 'result'], targets.map(t => [t.target, t.measured, t.pass === null ? (t.info === true ? 'info' : 'n/a') : t.pass ? 'PASS' : 'FAIL']))
}

function render (head: string[], body: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...body.map(r => r[i].length)))
  const line = (cells: string[]): string => '| ' + cells.map((c, i) => i === 0 || i === cells.length - 1 ? c.padEnd(widths[i]) : c.padStart(widths[i])).join(' | ') + ' |'
  return [line(head), '|' + widths.map((w, i) => i === 0 || i === head.length - 1 ? '-'.repeat(w + 2) : '-'.repeat(w + 1) + ':').join('|') + '|', ...body.map(line)].join('\n')
}

export function evaluate (byName: Map<string, Row>): Target[] {
  const get = (n: string): Row | undefined => byName.get(n)
  const ratio = (a?: Row, b?: Row): number | undefined => a === undefined || b === undefined ? undefined : a.throughput / b.throughput
  const out: Target[] = []
  const add = (target: string, value: number | undefined, measured: (v: number) => string, ok: (v: number) => boolean): void => {
    out.push(value === undefined || Number.isNaN(value) ? { target, measured: 'not measured', pass: null } : { target, measured: measured(value), pass: ok(value) })
  }
  const echo = get('baseline echo')
  add('rpc-local throughput >= 0.6 x baseline echo', ratio(get('rpc-local'), echo), v => `${fmt(v, 2)} x`, v => v >= 0.6)
  add('rpc-redis throughput >= 0.3 x baseline echo', ratio(get('rpc-redis'), echo), v => `${fmt(v, 2)} x`, v => v >= 0.3)
  const batched = get('baseline echo (batched writes)')
  for (const name of ['rpc-local', 'rpc-redis']) {
    const v = ratio(get(name), batched)
    if (v !== undefined) out.push({ target: `${name} vs baseline echo (batched writes) (information)`, measured: `${fmt(v, 2)} x`, pass: null, info: true })
  }
  add('rpc-redis throughput >= 15,000 calls/s', get('rpc-redis')?.throughput, v => `${fmt(v)} calls/s`, v => v >= 15000)
  // Information: the same Redis trip with no protocol (bench/baseline-redis-server.ts), in the same run.
  const chain = ratio(get('rpc-redis'), get('baseline redis chain'))
  if (chain !== undefined) out.push({ target: 'rpc-redis throughput vs bare redis chain (information)', measured: `${fmt(chain, 2)} x`, pass: null, info: true })
  add('rpc-redis p99 at 25% load <= 5 ms', get('rpc-redis @25%')?.p99, v => `${fmt(v, 2)} ms`, v => v <= 5)
  const p99 = get('rpc-redis @25%')?.p99
  const chainP99 = get('baseline redis chain @25%')?.p99
  if (p99 !== undefined && chainP99 !== undefined) {
    out.push({ target: 'rpc-redis p99 at 25% load vs bare redis chain at the same rate (information)', measured: `${fmt(p99, 2)} vs ${fmt(chainP99, 2)} ms (${fmt(p99 / chainP99, 2)} x)`, pass: null, info: true })
  }
  const pyAsync = get('rpc-redis python worker (async)')
  const nodeWorker = get('rpc-redis node worker')
  add('python worker, async handler >= 5,000 calls/s', pyAsync?.throughput, v => `${fmt(v)} calls/s`, v => v >= 5000)
  add('python worker, async handler >= 0.25 x node worker', ratio(pyAsync, nodeWorker), v => `${fmt(v, 2)} x`, v => v >= 0.25)
  const pySync = ratio(get('rpc-redis python worker (thread pool)'), nodeWorker)
  if (pySync !== undefined) out.push({ target: 'python worker, plain handler (thread pool) vs node worker (information)', measured: `${fmt(pySync, 2)} x`, pass: null, info: true })
  const bc = get('baseline send-to-all')
  add('broadcast deliveries/s >= 0.8 x baseline send-to-all', ratio(get('broadcast'), bc), v => `${fmt(v, 2)} x`, v => v >= 0.8)
  add('broadcast, 2 nodes (information: same bar)', ratio(get('broadcast 2 nodes'), bc), v => `${fmt(v, 2)} x`, v => v >= 0.8)
  add('broadcast with history >= 0.8 x without (same run, one user\'s connections over Redis)', ratio(get('broadcast to a user, history on'), get('broadcast to a user, history off')), v => `${fmt(v, 2)} x`, v => v >= 0.8)
  const mem = get('connections')?.bytesPerConnection as number | undefined
  const baseMem = get('baseline connections')?.bytesPerConnection as number | undefined
  add('memory per idle authenticated connection <= 2 x baseline', mem === undefined || baseMem === undefined ? undefined : mem / baseMem, v => `${fmt(v, 2)} x (${fmt(mem! / 1024, 1)} vs ${fmt(baseMem! / 1024, 1)} KiB)`, v => v <= 2)
  add('memory per idle authenticated connection <= 20 KB', mem, v => `${fmt(v / 1000, 1)} KB`, v => v <= 20000)
  add('connect + auth >= 2,000 connections/s', get('connections')?.throughput, v => `${fmt(v)} conn/s`, v => v >= 2000)
  return out
}

export function writeResults (path: string, rows: Row[], targets: Target[], startedAt: Date, skipped: string[]): void {
  const json = {
    startedAt: startedAt.toISOString(),
    seconds: (Date.now() - startedAt.getTime()) / 1000,
    machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version },
    rows,
    targets,
    skipped
  }
  writeFileSync(path, JSON.stringify(json, null, 2) + '\n')
}
