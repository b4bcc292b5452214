// The plugin: plugins/ in dependency order, then routes/. Wrapped with fastify-plugin so the host
// app sees `app.ipc`.
import fastifyWebsocket from '@fastify/websocket'
import { TypeBoxValidatorCompiler } from '@fastify/type-provider-typebox'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import type { FastifyIpcOptions } from './config.js'
import config from '../plugins/config.js'
import metrics from '../plugins/metrics.js'
import auth from '../plugins/auth.js'
import broker from '../plugins/broker.js'
import methods from '../plugins/methods.js'
import hub from '../plugins/hub.js'
import rpc from '../plugins/rpc.js'
import websocketRoute from '../routes/websocket.js'
import healthRoute from '../routes/health.js'
import readyRoute from '../routes/ready.js'
import metricsRoute from '../routes/metrics.js'
import openrpcRoute from '../routes/openrpc.js'
import publishRoute from '../routes/publish.js'

async function fastifyIpc (fastify: FastifyInstance, options: FastifyIpcOptions): Promise<void> {
  await fastify.register(config, options)
  await fastify.register(metrics)
  await fastify.register(auth)
  await fastify.register(broker)
  await fastify.register(methods)
  // The hub's preClose (drain, then close with 1001) must run before @fastify/websocket's own,
  // so the hub is registered first; a host that registered @fastify/websocket keeps its own.
  await fastify.register(hub)
  await fastify.register(rpc)
  if (!fastify.hasDecorator('websocketServer')) {
    await fastify.register(fastifyWebsocket, { options: { maxPayload: fastify.ipcConfig.maxPayload } })
  }
  await fastify.register(async function routes (scope) {
    scope.setValidatorCompiler(TypeBoxValidatorCompiler)
    await scope.register(websocketRoute)
    if (!scope.ipcConfig.routes) return
    await scope.register(healthRoute)
    await scope.register(readyRoute)
    await scope.register(metricsRoute)
    await scope.register(openrpcRoute)
    await scope.register(publishRoute)
  })
}

export default fp(fastifyIpc, { name: 'fastify-ipc', fastify: '5.x' })
