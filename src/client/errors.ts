// The one error type a client caller sees: the protocol's code, message and data, unchanged.
import { ErrorCode } from '../protocol/errors.js'

export class IpcError extends Error {
  static readonly PARSE_ERROR = ErrorCode.PARSE_ERROR
  static readonly INVALID_REQUEST = ErrorCode.INVALID_REQUEST
  static readonly METHOD_NOT_FOUND = ErrorCode.METHOD_NOT_FOUND
  static readonly INVALID_PARAMS = ErrorCode.INVALID_PARAMS
  static readonly INTERNAL_ERROR = ErrorCode.INTERNAL_ERROR
  static readonly UNAUTHENTICATED = ErrorCode.UNAUTHENTICATED
  static readonly PERMISSION_DENIED = ErrorCode.PERMISSION_DENIED
  static readonly NOT_FOUND = ErrorCode.NOT_FOUND
  static readonly DEADLINE_EXCEEDED = ErrorCode.DEADLINE_EXCEEDED
  static readonly CONFLICT = ErrorCode.CONFLICT
  static readonly RATE_LIMITED = ErrorCode.RATE_LIMITED
  static readonly UNAVAILABLE = ErrorCode.UNAVAILABLE

  readonly code: number
  readonly data?: unknown

  constructor (code: number, message: string, data?: unknown, options?: ErrorOptions) {
    super(message, options)
    this.name = 'IpcError'
    this.code = code
    if (data !== undefined) this.data = data
  }

  /** An error object from a response frame; anything malformed becomes INTERNAL_ERROR. */
  static from (error: unknown): IpcError {
    const e = error as { code?: unknown, message?: unknown, data?: unknown } | null
    if (e !== null && typeof e === 'object' && typeof e.code === 'number' && typeof e.message === 'string') {
      return new IpcError(e.code, e.message, e.data)
    }
    return new IpcError(ErrorCode.INTERNAL_ERROR, 'Malformed error response', error)
  }
}

/** Client-side failures that never reached (or never came back from) the server. */
export const unavailable = (message: string, data?: unknown): IpcError => new IpcError(ErrorCode.UNAVAILABLE, message, data)
