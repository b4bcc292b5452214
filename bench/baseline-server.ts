// The limit we compare against: a bare `ws` server with no protocol. It echoes every message (RPC)
// and, on POST /publish, sends one pre-built event frame to every socket (broadcast).
// BATCH_WRITES=1: the echoes of one event-loop turn leave in one write per socket (cork, then one
// setImmediate uncorks them all), as the gateway does (src/gateway/connection.ts): an informational
// baseline that separates the gain of batching from the cost of the protocol.
import { createServer } from 'node:http'
import { WebSocketServer } from 'ws'

const port = Number(process.env.PORT)
const batchWrites = process.env.BATCH_WRITES === '1'

interface Corkable { cork (): void, uncork (): void }
const corked = new Set<Corkable>()
function uncorkAll (): void {
  for (const s of corked) s.uncork()
  corked.clear()
}
const server = createServer((req, res) => {
  if (req.method === 'POST' && req.url === '/publish') {
    let body = ''
    req.setEncoding('utf8')
    req.on('data', (d: string) => { body += d })
    req.on('end', () => {
      // The same frame the gateway would send, serialized once for every socket.
      const frame = '{"jsonrpc":"2.0","method":"rpc.event","params":{"event":"bench.tick","data":' + body + ',"target":"all"}}'
      for (const ws of wss.clients) ws.send(frame)
      res.end(`{"sent":${wss.clients.size}}`)
    })
    return
  }
  res.end('{"status":"ok"}')
})
const wss = new WebSocketServer({ server, perMessageDeflate: false, maxPayload: 64 * 1024 })
wss.on('connection', ws => {
  const raw = (ws as unknown as { _socket: Corkable })._socket
  ws.on('message', (data, isBinary) => {
    if (batchWrites && !corked.has(raw)) {
      raw.cork()
      if (corked.add(raw).size === 1) setImmediate(uncorkAll)
    }
    ws.send(data, { binary: isBinary })
  })
  ws.on('error', () => {})
})
server.listen(port, '127.0.0.1')
process.on('SIGTERM', () => process.exit(0))
process.on('disconnect', () => process.exit(0))
