// A load process of the recover scenario: COUNT real IpcClients (fastify-ipc/client, its default
// backoff), each in one history room, that report when each has reconnected and recovered after the
// parent restarts the gateway. Messages: parent -> {type:'restart', at} ; child -> ready | result.
import { createSigner } from 'fast-jwt'
import WebSocket from 'ws'
import { IpcClient, type WebSocketConstructor } from '../src/client/index.js'

const url = process.env.URL!
const count = Number(process.env.COUNT)
const first = Number(process.env.FIRST)
const rooms = Number(process.env.ROOMS)
const sign = createSigner({ key: process.env.SECRET!, expiresIn: 3600_000 })

interface State { client: IpcClient, user: string, room: string, reconnectedAt: number, recoveredAt: number, replayed: number, lost: boolean }
const states: State[] = []
let restartAt = Infinity

async function open (i: number): Promise<void> {
  const n = first + i
  const user = `user-${n}`
  const room = `bench:${n % rooms}`
  const client = new IpcClient({ url, token: sign({ sub: user, rooms: ['bench:*'] }), WebSocket: WebSocket as unknown as WebSocketConstructor, callTimeoutMs: 60000, queue: { max: 10, timeoutMs: 120000 } })
  const s: State = { client, user, room, reconnectedAt: 0, recoveredAt: 0, replayed: 0, lost: false }
  const reports = new Set<string>()
  client.onStateChange(state => { if (state === 'open' && Date.now() > restartAt) s.reconnectedAt = Date.now() })
  client.onRecovery(r => {
    if (!r.recovered) s.lost = true
    reports.add(r.target)
    if (reports.size === 2) s.recoveredAt = Date.now()
  })
  client.on('missed', () => { if (Date.now() > restartAt) s.replayed++ })
  states.push(s)
  await client.connect()
  await client.join(room)
}

async function main (): Promise<void> {
  // Opened a few hundred at a time: the gateway is measured on reconnects, not on the first connects.
  for (let i = 0; i < count; i += 250) {
    await Promise.all(Array.from({ length: Math.min(250, count - i) }, async (_, j) => await open(i + j)))
  }
  process.send!({ type: 'ready' })
}

process.on('message', (msg: { type: string, at?: number, missed?: number }) => {
  if (msg.type === 'restart') restartAt = msg.at!
  else if (msg.type === 'collect') {
    void (async () => {
      const until = Date.now() + 120000
      const done = (s: State): boolean => s.recoveredAt > 0 && s.replayed >= msg.missed!
      while (Date.now() < until && !states.every(done)) await new Promise(resolve => setTimeout(resolve, 100))
      process.send!({
        type: 'result',
        reconnected: states.map(s => s.reconnectedAt - restartAt),
        recovered: states.map(s => s.recoveredAt - restartAt),
        incomplete: states.filter(s => !done(s)).length,
        lost: states.filter(s => s.lost).length
      })
      await Promise.all(states.map(async s => await s.client.close()))
      process.exit(0)
    })()
  }
})

main().catch((err: unknown) => {
  process.stderr.write(`recover-clients failed: ${(err as Error).stack ?? String(err)}\n`)
  process.exit(1)
})
