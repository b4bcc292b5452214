// A TCP proxy in front of a gateway whose flows can be frozen: bytes stop moving both ways and closes are
// not passed on, but no socket closes, as when a NAT or proxy drops a flow or a laptop sleeps.
import { once } from 'node:events'
import net from 'node:net'

export interface FreezableProxy {
  /** ws://127.0.0.1:<proxy port>/ws */
  url: string
  /** Freezes every flow open now; later connections are forwarded normally (a fresh NAT mapping). */
  freeze (): void
  /** flows opened so far */
  readonly flows: number
  close (): Promise<void>
}

export async function startProxy (targetPort: number): Promise<FreezableProxy> {
  const sockets = new Set<net.Socket>()
  const live = new Set<{ frozen: boolean }>()
  let flows = 0
  const server = net.createServer(client => {
    flows++
    const upstream = net.connect(targetPort, '127.0.0.1')
    const flow = { frozen: false }
    live.add(flow)
    for (const [from, to] of [[client, upstream], [upstream, client]] as const) {
      sockets.add(from)
      from.on('data', (chunk: Buffer) => { if (!flow.frozen) to.write(chunk) })
      from.on('error', () => {})
      from.on('close', () => {
        sockets.delete(from)
        if (!flow.frozen) to.destroy()
      })
    }
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as net.AddressInfo
  return {
    url: `ws://127.0.0.1:${port}/ws`,
    freeze: () => { for (const flow of live) flow.frozen = true },
    get flows () { return flows },
    close: async () => {
      for (const socket of sockets) socket.destroy()
      await new Promise(resolve => server.close(resolve))
    }
  }
}
