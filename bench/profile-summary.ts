// Summarizes a V8 .cpuprofile (node --cpu-prof): self time by function, the top N lines; or, with
// --tree, the call tree with each call's inclusive time, down to the calls of at least N% (default 1).
//   node --import tsx bench/profile-summary.ts [--tree] <file.cpuprofile> [N] [from-s] [to-s]
// from/to: only the samples taken in that window (seconds since the profile started), e.g. one scenario.
// Percentages are of the busy samples (idle left out).
import { readFileSync } from 'node:fs'

interface Node { id: number, callFrame: { functionName: string, url: string, lineNumber: number }, hitCount: number, children?: number[] }
const args = process.argv.slice(2)
const tree = args[0] === '--tree'
const [file, n = tree ? '1' : '30', from, to] = tree ? args.slice(1) : args
const prof = JSON.parse(readFileSync(file, 'utf8')) as { nodes: Node[], samples: number[], timeDeltas: number[] }
// hits per node: all of them, or those of the samples inside [from, to]
const hits = new Map<number, number>()
if (from === undefined) {
  for (const node of prof.nodes) hits.set(node.id, node.hitCount)
} else {
  let t = 0
  for (let i = 0; i < prof.samples.length; i++) {
    t += prof.timeDeltas[i] / 1e6
    if (t >= Number(from) && t <= Number(to ?? Infinity)) hits.set(prof.samples[i], (hits.get(prof.samples[i]) ?? 0) + 1)
  }
}
const name = (f: Node['callFrame']): string =>
  `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/(node_modules|dist)\//, '$1/').replace(/^file:\/\//, '')}:${f.lineNumber + 1}`
let total = 0
let idle = 0
for (const node of prof.nodes) {
  const h = hits.get(node.id) ?? 0
  total += h
  if (node.callFrame.functionName === '(idle)') idle += h
}
const pct = (v: number): string => `${(v / (total - idle) * 100).toFixed(1).padStart(5)}%`
process.stdout.write(`samples ${total}, idle ${(idle / total * 100).toFixed(1)}%\n`)

if (tree) {
  const byId = new Map(prof.nodes.map(node => [node.id, node]))
  const inclusive = new Map<number, number>()
  const sum = (id: number): number => {
    let s = hits.get(id) ?? 0
    for (const c of byId.get(id)!.children ?? []) s += sum(c)
    inclusive.set(id, s)
    return s
  }
  sum(prof.nodes[0].id)
  const walk = (id: number, depth: number): void => {
    const node = byId.get(id)!
    const v = inclusive.get(id)!
    if (v / (total - idle) * 100 < Number(n) || node.callFrame.functionName === '(idle)') return
    if (depth > 0) process.stdout.write(`${pct(v)}  ${'  '.repeat(depth - 1)}${name(node.callFrame)} (self ${pct(hits.get(id) ?? 0).trim()})\n`)
    for (const c of [...node.children ?? []].sort((a, b) => inclusive.get(b)! - inclusive.get(a)!)) walk(c, depth + 1)
  }
  walk(prof.nodes[0].id, 0)
} else {
  const self = new Map<string, number>()
  for (const node of prof.nodes) {
    const key = name(node.callFrame)
    self.set(key, (self.get(key) ?? 0) + (hits.get(node.id) ?? 0))
  }
  for (const [k, v] of [...self].filter(([k]) => !k.startsWith('(idle)')).sort((a, b) => b[1] - a[1]).slice(0, Number(n))) {
    process.stdout.write(`${pct(v)}  ${k}\n`)
  }
}
