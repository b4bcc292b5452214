#!/usr/bin/env node
// `fastify-ipc serve | token | help`
import { parseArgs } from 'node:util'
import { EnvError, envHelp, fromEnv } from './env.js'
import { signToken, startServer } from './server.js'

const usage = `Usage: fastify-ipc <command> [options]

Commands:
  serve [--methods <module>]     run the gateway (configuration from the environment)
  token --sub <user> [--rooms a,b:*] [--roles r1,r2] [--ttl <seconds>]
                                 print a JWT signed with IPC_JWT_SECRET
  help                           this text

Environment:
${Object.entries(envHelp).map(([k, v]) => `  ${k.padEnd(30)} ${v}`).join('\n')}
`

async function main (argv: string[]): Promise<void> {
  const [command, ...rest] = argv
  switch (command) {
    case 'serve': {
      const { values } = parseArgs({ args: rest, options: { methods: { type: 'string' } } })
      const config = fromEnv(process.env)
      if (values.methods !== undefined) config.methods = values.methods
      await startServer(config)
      return
    }
    case 'token': {
      const { values } = parseArgs({ args: rest, options: { sub: { type: 'string' }, rooms: { type: 'string' }, roles: { type: 'string' }, ttl: { type: 'string', default: '3600' } } })
      const secret = process.env.IPC_JWT_SECRET
      if (secret === undefined || secret === '') throw new EnvError('IPC_JWT_SECRET: must be set to sign a token')
      if (values.sub === undefined) throw new EnvError('--sub: the user id is required')
      const ttl = Number(values.ttl)
      if (!Number.isInteger(ttl) || ttl <= 0) throw new EnvError('--ttl: must be a whole number of seconds')
      const claims: Record<string, unknown> = { sub: values.sub }
      if (values.rooms !== undefined) claims.rooms = values.rooms.split(',')
      if (values.roles !== undefined) claims.roles = values.roles.split(',')
      process.stdout.write(signToken(secret, claims, ttl) + '\n')
      return
    }
    case undefined:
    case 'help':
    case '--help':
      process.stdout.write(usage)
      return
    default:
      throw new EnvError(`unknown command "${command}" (try: fastify-ipc help)`)
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  // One clear line for configuration mistakes; the stack only for the unexpected.
  const e = err as Error & { code?: string }
  const known = err instanceof EnvError || e.code === 'FST_IPC_INVALID_OPTION' || e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' || e.message?.startsWith('IPC_')
  process.stderr.write(`fastify-ipc: ${known ? e.message : e.stack ?? String(err)}\n`)
  process.exit(1)
})
