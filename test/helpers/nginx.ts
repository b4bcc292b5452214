// A real nginx serving deploy/nginx/fastify-ipc.conf as shipped, its upstreams pointed at test
// gateways and its listen port at a free one. Fails loudly when there is no nginx binary.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort } from './redis.js'
import { until } from './processes.js'

export const NGINX_CONF = fileURLToPath(new URL('../../deploy/nginx/fastify-ipc.conf', import.meta.url))

export interface TestNginx {
  port: number
  /** ws://127.0.0.1:<port>/ws */
  url: string
  http: string
  output (): string
  stop (): Promise<void>
}

export function nginxBinary (): string {
  for (const candidate of ['nginx', '/usr/sbin/nginx']) {
    try {
      return execFileSync('sh', ['-c', `command -v ${candidate}`], { encoding: 'utf8' }).trim()
    } catch {}
  }
  throw new Error('nginx was not found: install it (apt-get install nginx-light or nginx); .ci/run does')
}

/** The shipped configuration with `upstreams` (host:port) in place of its own servers, listening on `port`. */
export async function renderConf (upstreams: string[], port: number): Promise<string> {
  const conf = await readFile(NGINX_CONF, 'utf8')
  const servers = conf.match(/^ *server [\w.-]+:\d+ ([^;]*);$/m)
  if (servers === null) throw new Error(`${NGINX_CONF}: no upstream server line found`)
  const replaced = conf
    .replace(/^( *)server [\w.-]+:\d+ [^;]*;\n/gm, '')
    .replace(/^( *)least_conn;$/m, (line, indent: string) => line + '\n' + upstreams.map(u => `${indent}server ${u} ${servers[1]};`).join('\n'))
    .replace(/^( *)listen 80;$/m, `$1listen 127.0.0.1:${port};`)
  if (!replaced.includes(`listen 127.0.0.1:${port};`)) throw new Error(`${NGINX_CONF}: no "listen 80;" line found`)
  return replaced
}

/** The main configuration around the shipped file: what /etc/nginx/nginx.conf gives it in production. */
function mainConf (dir: string, include: string): string {
  return `daemon off;
master_process on;
worker_processes 1;
user root;
pid ${dir}/nginx.pid;
error_log stderr warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  include ${include};
}
`
}

/** Checks a configuration with `nginx -t`; throws with nginx's own words. */
export async function nginxTest (upstreams: string[]): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'ipc-nginx-'))
  try {
    await writeFile(join(dir, 'site.conf'), await renderConf(upstreams, await freePort()))
    await writeFile(join(dir, 'nginx.conf'), mainConf(dir, join(dir, 'site.conf')))
    execFileSync(nginxBinary(), ['-t', '-q', '-p', dir, '-c', join(dir, 'nginx.conf')], { stdio: 'pipe' })
  } catch (err) {
    const e = err as { stderr?: Buffer, message: string }
    throw new Error(`nginx -t failed: ${e.stderr?.toString() ?? e.message}`)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

export async function startNginx (upstreams: string[]): Promise<TestNginx> {
  const bin = nginxBinary()
  const port = await freePort()
  const dir = await mkdtemp(join(tmpdir(), 'ipc-nginx-'))
  await writeFile(join(dir, 'site.conf'), await renderConf(upstreams, port))
  await writeFile(join(dir, 'nginx.conf'), mainConf(dir, join(dir, 'site.conf')))
  const child: ChildProcess = spawn(bin, ['-p', dir, '-c', join(dir, 'nginx.conf')], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout!.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr!.on('data', (d: Buffer) => { out += d.toString() })
  const exited = new Promise<void>(resolve => child.once('exit', () => resolve()))
  const running = (): boolean => child.exitCode === null && child.signalCode === null
  process.once('exit', () => { if (running()) child.kill('SIGKILL') })
  const http = `http://127.0.0.1:${port}`
  const stop = async (): Promise<void> => {
    // SIGTERM is nginx's fast shutdown: workers end their upgraded sockets at once.
    if (running()) child.kill('SIGTERM')
    await exited
    await rm(dir, { recursive: true, force: true })
  }
  try {
    await until(async () => !running() || (await fetch(`${http}/health`)).status === 200, 10000, 'nginx to proxy /health', 50)
    if (!running()) throw new Error('nginx exited')
  } catch (err) {
    await stop()
    throw new Error(`nginx did not start (${(err as Error).message}):\n${out}`)
  }
  return { port, url: `ws://127.0.0.1:${port}/ws`, http, output: () => out, stop }
}
