// The worker of baseline-redis-server.ts: no SDK, no protocol. Reads requests with XREADGROUP and, per
// batch, answers `<connection id>|<frame>` on the reply list and acks the batch in one write.
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'

const STREAM = 'bench:chain:rpc'
const REPLIES = 'bench:chain:reply'
const GROUP = 'g'
const consumer = `c-${process.pid}`

// XREADGROUP blocks: it gets a connection of its own; the answers go on the other.
const redis = new Redis(process.env.REDIS_URL!)
const blocking = redis.duplicate()
for (const r of [redis, blocking]) r.on('error', (err: Error) => { if (running) console.error(`redis: ${err.message}`) })

let running = true
// Commands on one connection complete in order: the last XACK done means every answer is.
let lastBatch: Promise<unknown> = Promise.resolve()

const report = (err: Error): void => { if (running) console.error(`reply: ${err.message}`) }

type Entry = [string, string[] | null]
/** RESP2 gives `[[stream, entries]]`, RESP3 with ioredis' default mapping `[stream, entries]`. */
function entries (reply: unknown): Entry[] {
  if (!Array.isArray(reply) || reply.length === 0) return []
  return (Array.isArray(reply[0]) ? reply[0][1] : reply[1]) as Entry[]
}

async function loop (): Promise<void> {
  while (running) {
    let batch: Entry[]
    try {
      batch = entries(await blocking.call('XREADGROUP', 'GROUP', GROUP, consumer, 'COUNT', 1024, 'BLOCK', 2000, 'STREAMS', STREAM, '>'))
    } catch (err) {
      if (!running) return
      console.error(`xreadgroup: ${(err as Error).message}`)
      await sleep(100)
      continue
    }
    if (batch.length === 0) continue
    const answers: string[] = []
    const ids: string[] = []
    for (const [id, fields] of batch) {
      ids.push(id)
      // fields: c <connection id> f <frame>, as the server writes them (null: trimmed away)
      if (fields !== null) answers.push(`${fields[1]}|${fields[3]}`)
    }
    // One corked write, as a pipeline would be. Not redis.pipeline(): ioredis' Pipeline defines a
    // getter per instance, which makes V8 keep each one (and its replies) past young GCs; the SDK
    // worker avoids it too (src/worker/outbox.ts).
    redis.stream.cork()
    if (answers.length > 0) {
      redis.rpush(REPLIES, ...answers).catch(report)
      redis.pexpire(REPLIES, 60000).catch(report)
    }
    // Not awaited: the next read goes out at once, as the SDK worker's does.
    lastBatch = redis.xack(STREAM, GROUP, ...ids).catch(report)
    redis.stream.uncork()
  }
}

async function stop (): Promise<void> {
  running = false
  blocking.disconnect()
  await Promise.race([lastBatch.then(async () => await redis.quit()), sleep(1000)]).catch(() => {})
  redis.disconnect()
}
const exit = (): void => { stop().then(() => process.exit(0), () => process.exit(1)) }
process.once('SIGTERM', exit)
process.once('disconnect', exit)

try {
  await redis.xgroup('CREATE', STREAM, GROUP, '0', 'MKSTREAM')
} catch (err) {
  if (!String(err).includes('BUSYGROUP')) throw err
}
process.send?.('ready')
loop().catch((err: Error) => {
  console.error(err)
  process.exit(1)
})
