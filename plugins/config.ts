// The resolved options, decorated once so every plugin and route reads the same values.
import fp from 'fastify-plugin'
import { type CanJoin, type FastifyIpcOptions, type ResolvedOptions, resolveOptions } from '../src/config.js'

declare module 'fastify' {
  interface FastifyInstance {
    ipcConfig: ResolvedOptions & { canJoin?: CanJoin }
  }
}

export default fp<FastifyIpcOptions>(async function config (fastify, opts) {
  fastify.decorate('ipcConfig', resolveOptions(opts))
}, { name: 'ipc-config' })
