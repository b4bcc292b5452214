// fastify-ipc/client: the TypeScript client runtime, for browsers and Node.
export { IpcClient } from './client.js'
export { IpcError } from './errors.js'
export type { BackoffOptions } from './backoff.js'
export type { WebSocketConstructor, WebSocketLike } from './transport.js'
export type { AuthResult, CallOptions, ClientState, EventHandler, EventMeta, IpcClientOptions, JoinResult, PresenceResult, RecoveryListener, RecoveryReport, StateListener } from './types.js'
