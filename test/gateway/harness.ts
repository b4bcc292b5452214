// A Gateway without Fastify: a ws server of its own hands it sockets, as routes/websocket.ts does.
import { once } from 'node:events'
import type { IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createVerifier } from 'fast-jwt'
import { pino } from 'pino'
import { WebSocketServer } from 'ws'
import { MemoryBroker } from '../../src/broker/memory.js'
import type { Broker } from '../../src/broker/types.js'
import { type FastifyIpcOptions, type Identity, resolveOptions } from '../../src/config.js'
import { Authenticator } from '../../src/gateway/auth.js'
import { Gateway } from '../../src/gateway/gateway.js'
import { Metrics } from '../../src/gateway/metrics.js'
import { API_KEY, SECRET } from '../helper.js'

export interface Harness {
  gateway: Gateway
  url: string
  close (): Promise<void>
}

/** A started Gateway on a memory broker (or `broker`), and a ws server on a free port feeding it. */
export async function gatewayOnWs (options: FastifyIpcOptions = {}, broker: Broker = new MemoryBroker()): Promise<Harness> {
  const verify = createVerifier({ key: SECRET, algorithms: ['HS256'] })
  const gateway = new Gateway({
    options: resolveOptions(options),
    broker,
    metrics: new Metrics(),
    log: pino({ level: 'silent' }),
    auth: new Authenticator(token => verify(token), { backend: API_KEY }),
    version: '0.0.0-test'
  })
  await gateway.start()
  // The upgrade's token is checked before the socket exists, as routes/websocket.ts does (401 when bad).
  const identities = new WeakMap<IncomingMessage, Identity>()
  const wss = new WebSocketServer({
    port: 0,
    host: '127.0.0.1',
    verifyClient: ({ req }, done) => {
      const header = req.headers.authorization
      if (header === undefined) return done(true)
      gateway.identify(header).then(identity => { identities.set(req, identity); done(true) }, () => done(false, 401))
    }
  })
  wss.on('connection', (socket, request) => {
    gateway.open(socket, { ip: request.socket.remoteAddress ?? '', identity: identities.get(request) })
  })
  await once(wss, 'listening')
  const { port } = wss.address() as AddressInfo
  return {
    gateway,
    url: `ws://127.0.0.1:${port}`,
    async close () {
      await gateway.drain(0)
      await gateway.close()
      await new Promise(resolve => wss.close(resolve))
    }
  }
}
