// The deploy/ files are checked (YAML merge keys on, as Compose reads them) against the project itself: every image is built here or pinned,
// every variable is one the gateway or worker reads, every probe and scrape path is served, every
// selector selects, and nginx accepts the configuration.
import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { parseAllDocuments } from 'yaml'
import { envHelp } from '../../src/env.js'
import { workerEnvHelp } from '../../src/worker/run.js'
import { startGateway } from '../helper.js'
import { nginxTest } from '../helpers/nginx.js'

const root = fileURLToPath(new URL('../../', import.meta.url))
const read = (path: string): string => readFileSync(root + path, 'utf8')
const pkg = JSON.parse(read('package.json')) as { version: string, bin: Record<string, string> }
const dockerfile = read('Dockerfile')
const imagePort = Number(/^ENV .*\bIPC_PORT=(\d+)/m.exec(dockerfile)?.[1])
const cli = pkg.bin['fastify-ipc'].replace(/^\.\//, '')

type Doc = Record<string, any>
const docs = (path: string): Doc[] => parseAllDocuments(read(path), { merge: true }).map(d => {
  assert.deepEqual(d.errors, [], `${path}: ${d.errors.join('; ')}`)
  return d.toJS() as Doc
})

/** the paths the gateway serves, asked of a real one */
async function served (paths: string[]): Promise<void> {
  const gw = await startGateway()
  try {
    for (const path of paths) assert.equal((await fetch(gw.http + path)).status, 200, `GET ${path}`)
  } finally {
    await gw.close()
  }
}

/** A command line runs the package's CLI on a module or command that exists. */
function checkCommand (where: string, argv: string[]): void {
  assert.deepEqual(argv.slice(0, 2), ['node', cli], `${where}: runs the package's CLI`)
  assert.ok(['serve', 'worker'].includes(argv[2]), `${where}: ${argv[2]} is a CLI command`)
  if (argv[2] === 'worker') assert.ok(existsSync(root + argv[3]), `${where}: ${argv[3]} exists in the image`)
}

function checkEnv (where: string, names: string[], known: Record<string, string>): void {
  for (const name of names) assert.ok(name in known, `${where}: ${name} is not a variable it reads`)
}

test('the Dockerfile exposes the port the manifests use and runs the CLI', () => {
  assert.equal(imagePort, 8765)
  assert.match(dockerfile, new RegExp(`^EXPOSE ${imagePort}$`, 'm'))
  assert.match(dockerfile, new RegExp(`^CMD \\["node", "${cli}", "serve"\\]$`, 'm'))
})

test('docker-compose.yml: Redis, two gateways, a worker and nginx, all wired to what exists', async () => {
  const [compose] = docs('deploy/docker-compose.yml')
  const services = compose.services as Record<string, Doc>
  assert.deepEqual(Object.keys(services).sort(), ['gateway-a', 'gateway-b', 'nginx', 'redis', 'worker'])
  for (const [name, s] of Object.entries(services)) {
    if (s.build !== undefined) {
      assert.ok(existsSync(new URL(s.build.context + '/Dockerfile', new URL('../../deploy/', import.meta.url))), `${name}: builds this repository`)
    } else {
      assert.match(s.image, /^[a-z0-9/-]+:\d[\w.-]*$/, `${name}: a pinned public image`)
    }
  }
  for (const name of ['gateway-a', 'gateway-b']) {
    const gw = services[name]
    checkEnv(name, Object.keys(gw.environment), envHelp)
    assert.equal(gw.environment.IPC_NODE_ID, name)
    assert.equal(gw.environment.REDIS_URL, 'redis://redis:6379')
    assert.deepEqual(gw.expose, [String(imagePort)])
    assert.equal(gw.environment.IPC_TRUST_PROXY, 'true', 'behind nginx, per-IP limits need the client address')
  }
  checkEnv('worker', Object.keys(services.worker.environment), workerEnvHelp)
  checkCommand('worker', services.worker.command)
  // nginx mounts the shipped configuration, whose upstreams are the two gateways on their port
  const [source, target] = (services.nginx.volumes[0] as string).split(':')
  assert.ok(existsSync(new URL(source, new URL('../../deploy/', import.meta.url))), `nginx mounts ${source}`)
  assert.equal(target, '/etc/nginx/conf.d/default.conf')
  const conf = read('deploy/nginx/fastify-ipc.conf')
  const upstreams = [...conf.matchAll(/^ *server ([\w.-]+):(\d+) /gm)].map(m => `${m[1]}:${m[2]}`)
  assert.deepEqual(upstreams, [`gateway-a:${imagePort}`, `gateway-b:${imagePort}`])
})

test('Kubernetes: probes and scrape path served, drain within the grace period, selectors that select', async () => {
  const all = ['gateway', 'worker', 'servicemonitor'].flatMap(f => docs(`deploy/kubernetes/${f}.yaml`))
  const byKind = (kind: string): Doc[] => all.filter(d => d.kind === kind)
  const [gateway, worker] = byKind('Deployment')
  const [service] = byKind('Service')
  const [pdb] = byKind('PodDisruptionBudget')
  const [monitor] = byKind('ServiceMonitor')
  const paths: string[] = []

  for (const deployment of [gateway, worker]) {
    const pod = deployment.spec.template
    assert.deepEqual(deployment.spec.selector.matchLabels, pod.metadata.labels, `${deployment.metadata.name}: selects its pods`)
    const [c] = pod.spec.containers
    assert.equal(c.image, `fastify-ipc:${pkg.version}`, 'the image of this version')
    checkCommand(deployment.metadata.name, c.args)
    checkEnv(deployment.metadata.name, c.env.map((e: Doc) => e.name), c.args[2] === 'serve' ? envHelp : workerEnvHelp)
    assert.ok(c.securityContext.runAsUser > 0, 'the image\'s user (node) is not root, said in numbers')
  }

  const pod = gateway.spec.template
  const [c] = pod.spec.containers
  const env = Object.fromEntries(c.env.filter((e: Doc) => 'value' in e).map((e: Doc) => [e.name, e.value]))
  assert.equal(Number(env.IPC_PORT), c.ports[0].containerPort)
  assert.equal(c.ports[0].containerPort, imagePort)
  assert.equal(c.readinessProbe.httpGet.path, '/ready')
  assert.equal(c.livenessProbe.httpGet.path, '/health')
  assert.equal(c.readinessProbe.httpGet.port, c.ports[0].name)
  paths.push(c.readinessProbe.httpGet.path, c.livenessProbe.httpGet.path, pod.metadata.annotations['prometheus.io/path'])
  assert.equal(Number(pod.metadata.annotations['prometheus.io/port']), imagePort)

  // SIGTERM comes after preStop; the drain spreads over IPC_DRAIN_SPREAD_MS, then waits up to
  // IPC_SHUTDOWN_TIMEOUT_MS for the last calls in flight.
  const preStop = Number(c.lifecycle.preStop.exec.command.at(-1))
  const drain = (Number(env.IPC_DRAIN_SPREAD_MS ?? 0) + Number(env.IPC_SHUTDOWN_TIMEOUT_MS)) / 1000
  assert.ok(pod.spec.terminationGracePeriodSeconds >= preStop + drain + 5,
    `terminationGracePeriodSeconds ${pod.spec.terminationGracePeriodSeconds} < preStop ${preStop} + drain ${drain} + 5`)
  assert.equal(gateway.spec.strategy.rollingUpdate.maxUnavailable, 0)

  assert.deepEqual(service.spec.selector, pod.metadata.labels)
  assert.equal(service.spec.ports[0].targetPort, c.ports[0].name)
  assert.deepEqual(pdb.spec.selector.matchLabels, pod.metadata.labels)
  assert.deepEqual(monitor.spec.selector.matchLabels, service.metadata.labels)
  assert.equal(monitor.spec.endpoints[0].port, service.spec.ports[0].name)
  paths.push(monitor.spec.endpoints[0].path)

  await served([...new Set(paths)])
})

test('nginx accepts the shipped configuration (nginx -t)', async () => {
  await nginxTest(['127.0.0.1:1', '127.0.0.1:2'])
})
