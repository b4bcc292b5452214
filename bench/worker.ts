// A backend worker process for rpc-redis: answers `wbench.echo` through Redis Streams with the Worker SDK.
import { Worker } from '../src/worker/index.js'

const quiet = { debug () {}, info () {}, warn: (o: object | string, m?: string) => console.error(m ?? '', o), error: (o: object | string, m?: string) => console.error(m ?? '', o) }
const worker = new Worker({ redis: process.env.REDIS_URL!, service: 'wbench', concurrency: Number(process.env.CONCURRENCY ?? 64), logger: quiet })
worker.method('wbench.echo', {
  description: 'Answers with its params',
  params: { type: 'object', properties: { text: { type: 'string' }, n: { type: 'integer' } }, required: ['text', 'n'] }
}, (params: unknown) => params)

const stop = (): void => { worker.stop().then(() => process.exit(0), () => process.exit(1)) }
process.on('SIGTERM', stop)
process.on('disconnect', stop)
worker.start().then(() => process.send?.('ready'), (err: Error) => {
  console.error(err)
  process.exit(1)
})
