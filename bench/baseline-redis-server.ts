// The limit rpc-redis is compared against: a bare `ws` server with no protocol whose every message
// makes the gateway's trip (XADD to a stream, a worker, an answer on a reply list read with BLMPOP)
// and is sent back as it came. Its worker is baseline-redis-worker.ts.
import { once } from 'node:events'
import { createServer } from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import { type WebSocket, WebSocketServer } from 'ws'

const STREAM = 'bench:chain:rpc'
const REPLIES = 'bench:chain:reply'
const port = Number(process.env.PORT)

// One connection for the XADDs, one for the blocking reads (as the gateway has).
const redis = new Redis(process.env.REDIS_URL!)
const reader = redis.duplicate()
for (const r of [redis, reader]) r.on('error', (err: Error) => { if (running) console.error(`redis: ${err.message}`) })

let running = true
let nextId = 0
const sockets = new Map<string, WebSocket>()

// Made once: under tsx a closure made per message would also get its name set each time.
const xaddFailed = (err: Error): void => { if (running) console.error(`xadd: ${err.message}`) }

const server = createServer((_req, res) => { res.end('{"status":"ok"}') })
const wss = new WebSocketServer({ server, perMessageDeflate: false, maxPayload: 64 * 1024 })
wss.on('connection', ws => {
  const id = String(++nextId)
  sockets.set(id, ws)
  ws.on('message', data => {
    redis.xadd(STREAM, 'MAXLEN', '~', '100000', '*', 'c', id, 'f', data.toString()).catch(xaddFailed)
  })
  ws.on('close', () => sockets.delete(id))
  ws.on('error', () => {})
})

/** Each answer is `<connection id>|<frame>`: the frame goes to that connection as it is. */
async function readReplies (): Promise<void> {
  while (running) {
    let got: [string, string[]] | null
    try {
      got = await reader.blmpop(2, 1, REPLIES, 'LEFT', 'COUNT', 256)
    } catch (err) {
      if (!running) return
      console.error(`blmpop: ${(err as Error).message}`)
      await sleep(100)
      continue
    }
    if (got === null) continue
    for (const answer of got[1]) {
      const bar = answer.indexOf('|')
      sockets.get(answer.slice(0, bar))?.send(answer.slice(bar + 1))
    }
  }
}

async function stop (): Promise<void> {
  running = false
  for (const ws of wss.clients) ws.terminate()
  wss.close()
  server.close()
  // The reader may sit in BLMPOP for 2 s more: drop it; QUIT the command connection (at most 1 s).
  reader.disconnect()
  await Promise.race([redis.quit(), sleep(1000)]).catch(() => {})
  redis.disconnect()
}
const exit = (): void => { stop().then(() => process.exit(0), () => process.exit(1)) }
process.once('SIGTERM', exit)
process.once('disconnect', exit)

// /health answers once both Redis connections are up (the bench waits for it).
await Promise.all([once(redis, 'ready'), once(reader, 'ready')])
readReplies().catch((err: Error) => {
  console.error(err)
  process.exit(1)
})
server.listen(port, '127.0.0.1')
