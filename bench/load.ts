// A load-generating child process: opens WebSocket connections, then makes RPC calls or counts
// broadcast events, as the parent commands over IPC. It parses as little as it can (ids and
// timestamps by string search) so the machine's two cores go to the server under test.
import { createSigner } from 'fast-jwt'
import { RawSocket } from './lib/raw-ws.js'
import type { ConnectResult, EventDone, ListenResult, LoadCommand, LoadReply, RpcResult } from './lib/load-protocol.js'
import { Histogram, nowMs } from './lib/stats.js'

let sockets: RawSocket[] = []
const reply = (msg: LoadReply | EventDone): void => { process.send!(msg) }

process.on('disconnect', () => process.exit(0))
process.send!({ type: 'ready' })
process.on('message', (msg: LoadCommand) => {
  handle(msg).then(reply, (err: Error) => {
    process.stderr.write(`load: ${err.stack ?? String(err)}\n`)
    process.exit(1)
  })
})

async function handle (msg: LoadCommand): Promise<LoadReply> {
  switch (msg.cmd) {
    case 'connect': return await connect(msg)
    case 'rpc': return await rpc(msg)
    case 'listen': return listen(msg.record, msg.fromSeq)
    case 'close':
      for (const ws of sockets) ws.terminate()
      sockets = []
      return { type: 'closed' }
  }
}

async function connect (c: Extract<LoadCommand, { cmd: 'connect' }>): Promise<ConnectResult> {
  const sign = createSigner({ key: c.secret, expiresIn: 3_600_000 })
  // Tokens are signed before the clock starts: signing is the client's cost, not the server's.
  const tokens = c.auth === 'none' ? [] : Array.from({ length: c.count }, (_, i) => sign({ sub: c.user ?? `${c.userPrefix}${i}` }))
  let next = 0
  let failed = 0
  let firstError: string | undefined
  const started = performance.now()
  const lane = async (): Promise<void> => {
    while (next < c.count) {
      const i = next++
      try {
        sockets.push(await open(c, tokens[i]))
      } catch (err) {
        failed++
        firstError ??= (err as Error).message
      }
    }
  }
  await Promise.all(Array.from({ length: c.concurrency }, lane))
  return { type: 'connected', open: sockets.length, failed, ms: performance.now() - started, firstError }
}

async function open (c: Extract<LoadCommand, { cmd: 'connect' }>, token: string | undefined): Promise<RawSocket> {
  const headers: Record<string, string> = c.auth === 'header' ? { authorization: `Bearer ${token!}` } : {}
  const ws = await RawSocket.connect({ url: c.url, headers })
  if (c.auth === 'message') {
    const frame = await new Promise<Buffer>((resolve, reject) => {
      ws.onFrame = resolve
      ws.onClose = code => reject(new Error(`closed ${code} before rpc.auth answered`))
      ws.send(`{"jsonrpc":"2.0","id":0,"method":"rpc.auth","params":{"token":"${token!}"}}`)
    })
    ws.onFrame = () => {}
    ws.onClose = () => {}
    if (!frame.includes('"result"')) throw new Error(`rpc.auth failed: ${frame.toString()}`)
  }
  return ws
}

/** the unsigned integer right after `key` in a frame, or -1 */
function intAfter (buf: Buffer, key: string): number {
  let i = buf.indexOf(key)
  if (i < 0) return -1
  i += key.length
  let n = 0
  for (let c = buf[i]; c >= 48 && c <= 57; c = buf[++i]) n = n * 10 + c - 48
  return n
}

function numberAfter (buf: Buffer, key: string): number {
  const i = buf.indexOf(key)
  if (i < 0) return NaN
  let end = i + key.length
  while (end < buf.length && buf[end] !== 44 && buf[end] !== 125) end++
  return Number(buf.toString('latin1', i + key.length, end))
}

async function rpc (c: Extract<LoadCommand, { cmd: 'rpc' }>): Promise<RpcResult> {
  const hist = new Histogram()
  const start = performance.now()
  const measureFrom = start + c.warmupMs
  const end = measureFrom + c.durationMs
  let calls = 0
  let errors = 0
  let firstError: string | undefined
  let running = true
  // Per connection: the next id and the send time of each id in flight (ids < 2^20 in flight at once).
  const SLOTS = 1024
  const state = sockets.map(() => ({ id: 0, outstanding: 0, sentAt: new Float64Array(SLOTS) }))
  const send = (k: number): void => {
    const s = state[k]
    const id = ++s.id
    s.sentAt[id % SLOTS] = performance.now()
    s.outstanding++
    sockets[k].send(`{"jsonrpc":"2.0","id":${id},"method":"${c.method}","params":{"text":"hello, world","n":${id}}}`)
  }
  sockets.forEach((ws, k) => {
    ws.onFrame = (data: Buffer) => {
      const now = performance.now()
      const s = state[k]
      const id = intAfter(data, '"id":')
      s.outstanding--
      if (now >= measureFrom && now < end) {
        hist.record(now - s.sentAt[id % SLOTS])
        calls++
        if (data.includes('"error"')) {
          errors++
          firstError ??= data.toString().slice(0, 300)
        }
      }
      if (running && c.rate === undefined) send(k)
    }
  })
  let ticker: NodeJS.Timeout | null = null
  if (c.rate === undefined) {
    for (let k = 0; k < sockets.length; k++) for (let j = 0; j < c.inFlight; j++) send(k)
  } else {
    // Open loop: calls go out on schedule whether or not earlier ones have been answered.
    let sent = 0
    let k = 0
    const rate = c.rate
    ticker = setInterval(() => {
      const due = Math.floor((performance.now() - start) * rate / 1000)
      for (; sent < due; sent++) {
        k = (k + 1) % sockets.length
        if (state[k].outstanding < c.inFlight) send(k)
      }
    }, 1)
  }
  await new Promise(resolve => setTimeout(resolve, end - performance.now()))
  running = false
  if (ticker !== null) clearInterval(ticker)
  // Let the calls in flight drain so the next phase starts clean.
  const until = performance.now() + 5000
  while (state.some(s => s.outstanding > 0) && performance.now() < until) await new Promise(resolve => setTimeout(resolve, 20))
  for (const ws of sockets) ws.onFrame = () => {}
  return { type: 'rpc', calls, errors, firstError, seconds: c.durationMs / 1000, hist: hist.toJSON() }
}

let listening: { hist: Histogram, received: number, counts: Map<number, number> } | null = null

/** Starts counting broadcast events (returns at once), or stops and reports when already counting. */
function listen (record: boolean, fromSeq: number): ListenResult {
  if (!record && listening !== null) {
    const done = listening
    listening = null
    for (const ws of sockets) ws.onFrame = () => {}
    return { type: 'listening', received: done.received, hist: done.hist.toJSON() }
  }
  const l = listening = { hist: new Histogram(), received: 0, counts: new Map<number, number>() }
  const total = sockets.length
  for (const ws of sockets) {
    ws.onFrame = (data: Buffer) => {
      const now = nowMs()
      const seq = intAfter(data, '"seq":')
      if (seq >= fromSeq) {
        l.hist.record(now - numberAfter(data, '"ts":'))
        l.received++
      }
      const n = (l.counts.get(seq) ?? 0) + 1
      if (n === total) {
        l.counts.delete(seq)
        reply({ type: 'done', seq })
      } else {
        l.counts.set(seq, n)
      }
    }
  }
  return { type: 'listening', received: 0, hist: [] }
}
