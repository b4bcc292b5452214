// Configuration errors, one @fastify/error code per kind, so a caller can test `err.code`. Errors of
// a call over the wire are RpcErrors (src/protocol/errors.ts); these are thrown at setup time only.
import createError from '@fastify/error'

/** a plugin, worker or server option (or environment value) has a bad value */
export const InvalidOptionError = createError('FST_IPC_INVALID_OPTION', 'fastify-ipc: %s', 500)

/** a method's name, options or handler cannot be used */
export const InvalidMethodError = createError('FST_IPC_INVALID_METHOD', '%s', 500)

/** a method of that name is already defined */
export const DuplicateMethodError = createError('FST_IPC_DUPLICATE_METHOD', '%s', 500)

/** a call made at the wrong time (a worker's method after start(), start() twice) */
export const InvalidStateError = createError('FST_IPC_INVALID_STATE', '%s', 500)
