// Runs `fastify-ipc worker <fixture>` as a child process, the way people run it.
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../../', import.meta.url))

export interface WorkerProcess {
  child: ChildProcess
  exited: Promise<number | null>
  hasExited (): boolean
  output (): string
}

export function spawnWorker (env: Record<string, string | undefined>, module = 'test/worker/fixtures/jobs.ts'): WorkerProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'worker', module], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let out = ''
  child.stdout!.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr!.on('data', (d: Buffer) => { out += d.toString() })
  let done = false
  const exited = once(child, 'exit').then(([code]) => {
    done = true
    return code as number | null
  })
  return { child, exited, hasExited: () => done, output: () => out }
}
