// What the tracing code costs per call with the no-op OpenTelemetry API (no SDK installed), in one
// process and without the network, so the machine's neighbours do not drown it:
// `node --import tsx bench/tracing-cost.ts`, on its own. It runs, per call, what the gateway's
// dispatcher does (span start and end, the worker's traceparent) and what the Node worker does (span
// start, its context, end), with and without a client's traceparent, and prints ns per call; the
// `BENCH_ONLY=tracing` row gives the CPU time of a whole rpc-redis call to set it against.
import { CallTracing, traceparentOf } from '../src/gateway/tracing.js'
import { endSpan, spanContext, startSpan } from '../src/worker/tracing.js'
import type { WorkerRequest } from '../src/worker/request.js'

const CALLS = Number(process.env.TRACING_CALLS ?? 2_000_000)
const ROUNDS = 5
const tracing = new CallTracing('0.0.0')
const result = { result: null }
let sink = 0

function run (traceparent: string | undefined): number {
  const request: WorkerRequest = { id: 'n:1.0.1', method: 'wbench.echo', params: '{}', caller: '{}', reply: 'ipc:reply:n', deadline: 0, traceparent }
  const started = process.hrtime.bigint()
  for (let i = 0; i < CALLS; i++) {
    // gateway: dispatcher.one() and call()
    const span = tracing.start('wbench.echo', 'wbench.echo', i, traceparent, 'user-1')
    const written = traceparentOf(span)
    tracing.end(span, null, undefined)
    // worker: Worker.handle()
    const handled = startSpan(written === undefined ? request : { ...request, traceparent: written }, 'wbench')
    if (spanContext(handled) !== null) sink++
    endSpan(handled, result)
  }
  return Number(process.hrtime.bigint() - started) / CALLS
}

for (const [name, traceparent] of [['no traceparent', undefined], ['client traceparent', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01']] as const) {
  const ns: number[] = []
  for (let r = 0; r < ROUNDS; r++) ns.push(run(traceparent))
  process.stdout.write(`${name}: ${Math.min(...ns).toFixed(0)} ns per call, gateway and worker together (best of ${ROUNDS} x ${CALLS.toLocaleString('en-US')})\n`)
}
if (sink < 0) process.stdout.write('\n')
