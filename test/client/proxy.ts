// A TCP proxy in front of a gateway whose flows can be frozen: bytes stop moving both ways and closes are
// not passed on, but no socket closes, as when a NAT or proxy drops a flow or a laptop sleeps. Its link
// can also be cut (every flow reset, new ones refused for a while: a train tunnel), and it can stand in
// front of several gateways, taking the first that accepts (a load balancer after a node died).
import { once } from 'node:events'
import net from 'node:net'

export interface FreezableProxy {
  /** ws://127.0.0.1:<proxy port>/ws */
  url: string
  /** Freezes every flow open now; later connections are forwarded normally (a fresh NAT mapping). */
  freeze (): void
  /** Resets every flow open now and refuses new ones for `ms` (the link is down), then forwards again. */
  cut (ms: number): void
  /** flows opened so far */
  readonly flows: number
  close (): Promise<void>
}

/** `targets`: the gateway's port, or the ports of several, tried in order for each new flow. */
export async function startProxy (targets: number | number[]): Promise<FreezableProxy> {
  const ports = Array.isArray(targets) ? targets : [targets]
  const sockets = new Set<net.Socket>()
  const live = new Set<{ frozen: boolean, client: net.Socket, upstream: net.Socket }>()
  let flows = 0
  let downUntil = 0
  const server = net.createServer(client => {
    if (Date.now() < downUntil) {
      client.on('error', () => {})
      client.destroy()
      return
    }
    flows++
    client.pause()
    const open = (i: number): void => {
      const upstream = net.connect(ports[i], '127.0.0.1')
      upstream.once('error', () => {
        if (i + 1 < ports.length && !client.destroyed) open(i + 1)
        else client.destroy()
      })
      upstream.once('connect', () => pipe(client, upstream))
    }
    open(0)
  })
  const pipe = (client: net.Socket, upstream: net.Socket): void => {
    const flow = { frozen: false, client, upstream }
    live.add(flow)
    for (const [from, to] of [[client, upstream], [upstream, client]] as const) {
      sockets.add(from)
      from.on('data', (chunk: Buffer) => { if (!flow.frozen) to.write(chunk) })
      from.on('error', () => {})
      from.on('close', () => {
        sockets.delete(from)
        live.delete(flow)
        if (!flow.frozen) to.destroy()
      })
    }
    client.resume()
  }
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as net.AddressInfo
  return {
    url: `ws://127.0.0.1:${port}/ws`,
    freeze: () => { for (const flow of live) flow.frozen = true },
    cut: (ms: number) => {
      downUntil = Date.now() + ms
      for (const flow of [...live]) {
        flow.client.resetAndDestroy()
        flow.upstream.destroy()
      }
    },
    get flows () { return flows },
    close: async () => {
      for (const socket of sockets) socket.destroy()
      await new Promise(resolve => server.close(resolve))
    }
  }
}
