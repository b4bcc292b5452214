// Connections, rooms and event fan-out on this node; starts the broker with the hub as its listener
// and drains on shutdown: in-flight requests are answered, then every socket is closed with 1001.
import fp from 'fastify-plugin'
import type { Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { Hub } from '../src/gateway/hub.js'

declare module 'fastify' {
  interface FastifyInstance {
    ipcHub: Hub
  }
}

export default fp(async function hub (fastify) {
  const { ipcBroker: broker, ipcConfig: cfg, ipcMetrics: metrics, ipc } = fastify
  const hub = new Hub(broker, cfg, metrics, fastify.log)
  fastify.decorate('ipcHub', hub)

  await broker.start({
    event: ev => hub.deliver(ev),
    catalog: () => ipc.registry.reload(),
    state: up => metrics.brokerUp.set(up ? 1 : 0)
  })
  ipc.registry.reload()
  hub.start()

  // While closing, Fastify answers an upgrade with 503 itself, without the hook that would end its
  // socket, and that half-open socket would hold server.close() for good: end it once answered.
  const endRefused = (_request: unknown, socket: Socket): void => { socket.destroySoon() }
  fastify.addHook('preClose', async () => {
    hub.draining = true
    fastify.server.on('upgrade', endRefused)
    const until = Date.now() + cfg.shutdownTimeoutMs
    while (hub.inFlight() > 0 && Date.now() < until) await sleep(10)
    hub.closeAll()
  })
  fastify.addHook('onClose', async () => {
    fastify.server.off('upgrade', endRefused)
    hub.stop()
  })
}, { name: 'ipc-hub', dependencies: ['ipc-methods', 'ipc-metrics'] })
