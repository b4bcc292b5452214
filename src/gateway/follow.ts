// A built-in's result with frames that must follow its answer on the wire: the events a recovery
// replays (docs/protocol.md §5, rpc.join and rpc.auth with `recover`).
export class Followed {
  constructor (readonly result: unknown, readonly after: () => void) {}
}
