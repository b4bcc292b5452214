// A throwaway redis-server on a free loopback port, nothing kept on disk.
import { execFileSync } from 'node:child_process'
import { type Proc, freePort, start } from './procs.js'

export interface BenchRedis { proc: Proc, port: number, url: string }

export async function startRedis (): Promise<BenchRedis> {
  let bin: string
  try {
    bin = execFileSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).trim()
  } catch {
    throw new Error('redis-server was not found on PATH (apt-get install redis-server)')
  }
  const port = await freePort()
  const proc = start('redis-server', bin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no'])
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${proc.output()}`)), 10000)
    const check = (): void => {
      if (proc.output().includes('Ready to accept connections')) {
        clearTimeout(timer)
        resolve()
      }
    }
    proc.child.stdout!.on('data', check)
    proc.child.once('exit', code => {
      clearTimeout(timer)
      reject(new Error(`redis-server exited with ${code}: ${proc.output()}`))
    })
  })
  return { proc, port, url: `redis://127.0.0.1:${port}` }
}
