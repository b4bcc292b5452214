// A backend worker process for rpc-redis: answers `wbench.echo` through Redis Streams with the Worker SDK.
// Plain JS on the built SDK (dist/), as users run it: under tsx every closure the SDK makes per request
// would also get its name set at run time (esbuild's keepNames), a cost that ships nowhere.
import { setFlagsFromString } from 'node:v8'
import { Worker } from '../dist/src/worker/index.js'

// As README.md advises for a worker process of one's own (and `fastify-ipc worker` does): no V8
// pretenuring, which after the full-load phases kept allocating each request in the old generation.
setFlagsFromString('--no-allocation-site-pretenuring')

const quiet = { debug () {}, info () {}, warn: (o, m) => console.error(m ?? '', o), error: (o, m) => console.error(m ?? '', o) }
// PREFIX and TRACING=0: the tracing row's worker without the tracing code, on keys of its own
const worker = new Worker({
  redis: process.env.REDIS_URL,
  service: 'wbench',
  concurrency: Number(process.env.CONCURRENCY ?? 64),
  logger: quiet,
  prefix: process.env.PREFIX ?? 'ipc:',
  tracing: process.env.TRACING !== '0'
})
worker.method('wbench.echo', {
  description: 'Answers with its params',
  params: { type: 'object', properties: { text: { type: 'string' }, n: { type: 'integer' } }, required: ['text', 'n'] }
}, (params) => params)

const stop = () => { worker.stop().then(() => process.exit(0), () => process.exit(1)) }
process.on('SIGTERM', stop)
process.on('disconnect', stop)
worker.start().then(() => process.send?.('ready'), (err) => {
  console.error(err)
  process.exit(1)
})
