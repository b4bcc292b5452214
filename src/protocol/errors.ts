// Error and close codes of docs/protocol.md §6 and §7: the one table every side uses.

export const ErrorCode = {
  PARSE_ERROR: -32700,
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  INVALID_PARAMS: -32602,
  INTERNAL_ERROR: -32603,
  UNAUTHENTICATED: -32001,
  PERMISSION_DENIED: -32003,
  NOT_FOUND: -32004,
  DEADLINE_EXCEEDED: -32008,
  CONFLICT: -32009,
  RATE_LIMITED: -32029,
  UNAVAILABLE: -32050
} as const

export const CloseCode = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  UNSUPPORTED_DATA: 1003,
  POLICY: 1008,
  TOO_BIG: 1009,
  INTERNAL: 1011,
  AUTH_TIMEOUT: 4001,
  TOKEN_EXPIRED: 4003,
  SLOW_CONSUMER: 4008,
  TOO_MANY_CONNECTIONS: 4029
} as const

export interface ErrorObject {
  code: number
  message: string
  data?: unknown
}

/** An error with a JSON-RPC code: thrown by handlers, passed to the client unchanged. */
export class RpcError extends Error {
  readonly code: number
  readonly data: unknown

  constructor (code: number, message: string, data?: unknown) {
    super(message)
    this.name = 'RpcError'
    this.code = code
    this.data = data
  }

  toJSON (): ErrorObject {
    return this.data === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, data: this.data }
  }

  /**
   * The RpcError a thrown value stands for, or null (the caller answers -32603). One from another copy
   * of this package (a methods module importing the built one) is not `instanceof` ours, so its name
   * counts; other errors with a numeric code (a database's) may carry internals and do not pass.
   */
  static of (err: unknown): RpcError | null {
    if (err instanceof RpcError) return err
    const e = err as { name?: unknown, code?: unknown, message?: unknown, data?: unknown } | null
    if (e !== null && typeof e === 'object' && e.name === 'RpcError' && Number.isInteger(e.code) && typeof e.message === 'string') {
      return new RpcError(e.code as number, e.message, e.data)
    }
    return null
  }
}

export const notFound = (message = 'Not found', data?: unknown): RpcError =>
  new RpcError(ErrorCode.NOT_FOUND, message, data)
export const permissionDenied = (message = 'Permission denied', data?: unknown): RpcError =>
  new RpcError(ErrorCode.PERMISSION_DENIED, message, data)
export const invalidParams = (message = 'Invalid params', data?: unknown): RpcError =>
  new RpcError(ErrorCode.INVALID_PARAMS, message, data)
export const unauthenticated = (message = 'Unauthenticated', data?: unknown): RpcError =>
  new RpcError(ErrorCode.UNAUTHENTICATED, message, data)
