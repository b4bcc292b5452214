// The plugin: options checked up front, one Gateway built from them, and thin Fastify adapters
// around it (plugins/, routes/). Wrapped with fastify-plugin so the host app sees `app.ipc`, the one
// decorator; everything else is held here and handed to the routes.
import { TypeBoxValidatorCompiler } from '@fastify/type-provider-typebox'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { createBroker } from './broker/create.js'
import { type FastifyIpcOptions, resolveOptions } from './config.js'
import { Authenticator } from './gateway/auth.js'
import { Gateway } from './gateway/gateway.js'
import { Metrics } from './gateway/metrics.js'
import { version } from './version.js'
import { jwtVerifier } from '../plugins/auth.js'
import { attachGateway } from '../plugins/gateway.js'
import { websocketServer } from '../plugins/websocket.js'
import websocketRoute from '../routes/websocket.js'
import healthRoute from '../routes/health.js'
import readyRoute from '../routes/ready.js'
import metricsRoute from '../routes/metrics.js'
import openrpcRoute from '../routes/openrpc.js'
import publishRoute from '../routes/publish.js'
import controlRoutes from '../routes/control.js'

async function fastifyIpc (fastify: FastifyInstance, input: FastifyIpcOptions): Promise<void> {
  const options = resolveOptions(input)
  const metrics = new Metrics()
  const auth = new Authenticator(await jwtVerifier(fastify, options.jwt), options.apiKeys)
  const broker = createBroker(options, fastify.log, metrics.registry)
  const gateway = new Gateway({ options, broker, metrics, auth, log: fastify.log, version })
  // The gateway's preClose (drain, then close with 1001) must run before @fastify/websocket's own,
  // so it is attached first; a host that registered @fastify/websocket keeps its own.
  await attachGateway(fastify, gateway)
  await websocketServer(fastify, options.maxPayload)
  await fastify.register(async function routes (scope) {
    scope.setValidatorCompiler(TypeBoxValidatorCompiler)
    await scope.register(websocketRoute, { gateway })
    if (!options.routes) return
    await scope.register(healthRoute)
    await scope.register(readyRoute, { gateway })
    await scope.register(metricsRoute, { gateway })
    await scope.register(openrpcRoute, { gateway })
    await scope.register(publishRoute, { gateway, auth })
    await scope.register(controlRoutes, { api: gateway.api, auth })
  })
}

export default fp(fastifyIpc, { name: 'fastify-ipc', fastify: '5.x' })
