// Commands written to one Redis connection together, in one write. This is the only module that
// relies on ioredis' internals: a `Command` subclass whose `toWritable` gives RESP text we encoded,
// `sendCommand` writing a command into the connection's socket at once (`redis.stream`, corked
// around a batch), and EXEC answering with a list whose failed entries are `Error`s.
// test/broker/redis-wire.test.ts checks that the ioredis version in package.json still works this way.
import { Command, type Redis } from 'ioredis'

export type { Command }

/** RESP bulk string */
export const bulk = (s: string): string => `$${Buffer.byteLength(s)}\r\n${s}\r\n`

/** RESP array header of `n` elements (a command and its arguments) */
export const arrayOf = (n: number): string => `*${n}\r\n`

class Encoded extends Command {
  constructor (name: string, private readonly text: string) {
    super(name)
  }

  override toWritable (): string {
    return this.text
  }
}

/**
 * A command sent as the RESP text given (made of `arrayOf` and `bulk`): it skips ioredis' argument
 * flattening and encoding, which on a hot path costs more than building the text from parts made once.
 * No `keyPrefix` is applied.
 */
export function encoded (name: string, resp: string): Command {
  return new Encoded(name, resp)
}

/** A command for `sendTogether`, keys prefixed with the client's `keyPrefix` as its own commands are. */
export function command (redis: Redis, name: string, args: Array<string | number>): Command {
  return new Command(name, args, { keyPrefix: redis.options.keyPrefix })
}

/**
 * Sends the commands in this order and in one write, with nothing of the client's own between them
 * (they go around its auto-pipeline). ioredis' own checks stay: on a connection that is not ready,
 * with the offline queue off, each command's promise is rejected at once.
 */
export function sendTogether (redis: Redis, commands: readonly Command[]): void {
  const socket = redis.stream // none before the first connection
  socket?.cork()
  for (const c of commands) redis.sendCommand(c)
  socket?.uncork()
}
