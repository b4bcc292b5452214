// In-process methods of the gateway under test (IPC_METHODS). Plain JS: the gateway runs from dist/.
/** @param {{ method: Function, use: Function }} ipc */
export default function methods (ipc) {
  ipc.method('bench.echo', {
    description: 'Answers with its params',
    params: { type: 'object', properties: { text: { type: 'string' }, n: { type: 'integer' } }, required: ['text', 'n'] },
    result: { type: 'object', properties: { text: { type: 'string' }, n: { type: 'integer' } } }
  }, (params) => params)
  // BENCH_INTERCEPTOR=1: one interceptor that changes nothing, to price the chain (bench/README.md)
  if (process.env.BENCH_INTERCEPTOR === '1') ipc.use(async (_call, next) => await next())
}
