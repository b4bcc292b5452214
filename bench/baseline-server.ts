// The limit we compare against: a bare `ws` server with no protocol. It echoes every message (RPC)
// and, on POST /publish, sends one pre-built event frame to every socket (broadcast).
import { createServer } from 'node:http'
import { WebSocketServer } from 'ws'

const port = Number(process.env.PORT)
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
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }))
  ws.on('error', () => {})
})
server.listen(port, '127.0.0.1')
process.on('SIGTERM', () => process.exit(0))
process.on('disconnect', () => process.exit(0))
