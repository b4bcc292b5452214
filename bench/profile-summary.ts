// Summarizes a V8 .cpuprofile (node --cpu-prof): self time by function, the top N lines.
//   node --import tsx bench/profile-summary.ts <file.cpuprofile> [N]
import { readFileSync } from 'node:fs'

interface Node { id: number, callFrame: { functionName: string, url: string, lineNumber: number }, hitCount: number, children?: number[] }
const [file, n = '30'] = process.argv.slice(2)
const prof = JSON.parse(readFileSync(file, 'utf8')) as { nodes: Node[], samples: number[] }
const self = new Map<string, number>()
let total = 0
for (const node of prof.nodes) {
  const f = node.callFrame
  const key = `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/(node_modules|dist)\//, '$1/').replace(/^file:\/\//, '')}:${f.lineNumber + 1}`
  self.set(key, (self.get(key) ?? 0) + node.hitCount)
  total += node.hitCount
}
const idle = [...self].filter(([k]) => k.startsWith('(idle)')).reduce((s, [, v]) => s + v, 0)
process.stdout.write(`samples ${total}, idle ${(idle / total * 100).toFixed(1)}%\n`)
for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(n))) {
  process.stdout.write(`${(v / (total - idle) * 100).toFixed(1).padStart(5)}%  ${k}\n`)
}
