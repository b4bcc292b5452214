// Summarizes a V8 .cpuprofile (node --cpu-prof): self time by function, the top N lines.
//   node --import tsx bench/profile-summary.ts <file.cpuprofile> [N] [from-s] [to-s]
// from/to: only the samples taken in that window (seconds since the profile started), e.g. one scenario.
import { readFileSync } from 'node:fs'

interface Node { id: number, callFrame: { functionName: string, url: string, lineNumber: number }, hitCount: number, children?: number[] }
const [file, n = '30', from, to] = process.argv.slice(2)
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
const self = new Map<string, number>()
let total = 0
for (const node of prof.nodes) {
  const f = node.callFrame
  const key = `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/(node_modules|dist)\//, '$1/').replace(/^file:\/\//, '')}:${f.lineNumber + 1}`
  const h = hits.get(node.id) ?? 0
  self.set(key, (self.get(key) ?? 0) + h)
  total += h
}
const idle = [...self].filter(([k]) => k.startsWith('(idle)')).reduce((s, [, v]) => s + v, 0)
process.stdout.write(`samples ${total}, idle ${(idle / total * 100).toFixed(1)}%\n`)
for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(n))) {
  process.stdout.write(`${(v / (total - idle) * 100).toFixed(1).padStart(5)}%  ${k}\n`)
}
