#!/usr/bin/env node
// `fastify-ipc serve | worker | token | generate | help`
import { parseArgs } from 'node:util'
import { setFlagsFromString } from 'node:v8'
import { CodegenError, generate, parseLanguages } from './codegen/index.js'
import { EnvError, envHelp, fromEnv } from './env.js'
import { signToken, startServer } from './server.js'
import { runWorker, workerEnvHelp } from './worker/run.js'

const usage = `Usage: fastify-ipc <command> [options]

Commands:
  serve [--methods <module>]     run the gateway (configuration from the environment)
  worker <module>                run a backend worker: the module's default export is
                                 (worker) => void and declares methods with worker.method()
  token --sub <user> [--rooms a,b:*] [--roles r1,r2] [--ttl <seconds>]
                                 print a JWT signed with IPC_JWT_SECRET
  generate --from <url|file> --out <dir> [--lang ts,python] [--name <package name>]
                                 write typed clients from a gateway's /openrpc.json
                                 (default --lang ts; with several, one subdirectory each)
  help                           this text

Environment:
${Object.entries(envHelp).map(([k, v]) => `  ${k.padEnd(30)} ${v}`).join('\n')}

Environment of \`worker\`:
${Object.entries(workerEnvHelp).map(([k, v]) => `  ${k.padEnd(30)} ${v}`).join('\n')}
`

// V8 allocates the objects of a code site straight in the old generation once nearly all of them
// survived young GCs ("pretenuring"). In a burst every request outlives a young GC, V8 decides so for
// the request path, and the decision stays when the load drops: each request then costs a full GC's
// work. The long-running commands turn it off; embedders can pass --no-allocation-site-pretenuring.
const steadyGc = (): void => { setFlagsFromString('--no-allocation-site-pretenuring') }

async function main (argv: string[]): Promise<void> {
  const [command, ...rest] = argv
  switch (command) {
    case 'serve': {
      steadyGc()
      const { values } = parseArgs({ args: rest, options: { methods: { type: 'string' } } })
      const config = fromEnv(process.env)
      if (values.methods !== undefined) config.methods = values.methods
      await startServer(config)
      return
    }
    case 'worker':
      steadyGc()
      await runWorker(rest[0], process.env)
      return
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
    case 'generate': {
      const { values } = parseArgs({ args: rest, options: { from: { type: 'string' }, out: { type: 'string' }, lang: { type: 'string', default: 'ts' }, name: { type: 'string' } } })
      if (values.from === undefined) throw new EnvError('--from: the URL of /openrpc.json or a file is required')
      if (values.out === undefined) throw new EnvError('--out: the output directory is required')
      const files = await generate({ from: values.from, out: values.out, langs: parseLanguages(values.lang), name: values.name })
      process.stdout.write(`wrote ${files.length} files to ${values.out}\n`)
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
  if (e.code === 'EADDRINUSE') {
    process.stderr.write(`fastify-ipc: ${e.message}: another process listens there (set IPC_PORT or IPC_HOST)\n`)
    process.exit(1)
  }
  const known = err instanceof EnvError || err instanceof CodegenError || e.code === 'FST_IPC_INVALID_OPTION' || e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' || e.message?.startsWith('IPC_')
  process.stderr.write(`fastify-ipc: ${known ? e.message : e.stack ?? String(err)}\n`)
  process.exit(1)
})
