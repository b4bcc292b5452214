// The logger a worker writes to: pino's shape (a pino or Fastify logger fits), console by default.

type LogFn = (objOrMsg: object | string, msg?: string) => void

export interface WorkerLogger {
  debug: LogFn
  info: LogFn
  warn: LogFn
  error: LogFn
}

const line = (write: (s: string) => void, level: string): LogFn => (objOrMsg, msg) => {
  const text = typeof objOrMsg === 'string' ? objOrMsg : `${msg ?? ''} ${JSON.stringify(objOrMsg, errorFields)}`
  write(`${new Date().toISOString()} ${level} fastify-ipc worker: ${text}`)
}

// Errors stringify to {} by default: keep what helps whoever reads the log.
function errorFields (_key: string, value: unknown): unknown {
  return value instanceof Error ? { message: value.message, stack: value.stack } : value
}

/** Info to stdout, warnings and errors to stderr, debug dropped. */
export const consoleLogger: WorkerLogger = {
  debug: () => {},
  info: line(s => console.log(s), 'INFO'),
  warn: line(s => console.error(s), 'WARN'),
  error: line(s => console.error(s), 'ERROR')
}
