// Event fan-out and history per target (docs/protocol.md §9 Events): the channel, history stream and
// epoch key of a target, the message nodes receive on a channel, the Lua scripts that write history
// and fan out in one command turn, and which targets keep history. Shared by the gateway's broker and
// the publishers of src/worker/, so every writer does exactly the same thing.
import { matchesRoom } from '../rooms.js'

/** Which targets keep history, how much and how long: what gateways write to Redis for publishers. */
export interface HistoryConfig {
  /** most events kept per target */
  size: number
  /** how long a target's history (and its epoch) outlives its last event */
  ttlMs: number
  /** room patterns (as publicRooms) whose rooms keep history */
  rooms: string[]
  /** whether `user:<id>` targets keep history */
  users: boolean
}

export const DEFAULT_HISTORY: HistoryConfig = { size: 100, ttlMs: 300000, rooms: [], users: true }

/** A position in a target's history: an offset (a history stream id) and the epoch it belongs to. */
export interface Position {
  offset: string
  epoch: string
}

export function keepsHistory (config: HistoryConfig, target: string): boolean {
  if (target.startsWith('user:')) return config.users
  if (target.startsWith('room:')) return config.rooms.length > 0 && matchesRoom(config.rooms, target.slice(5))
  return false
}

/**
 * A target's keys and channel share one hash tag, the target itself, so the publish script touches
 * one Cluster slot and sharded pub/sub delivers from the shard that holds the history.
 */
export const channelOf = (prefix: string, target: string): string => `${prefix}ev:{${target}}`
export const historyKeys = (prefix: string, target: string): [stream: string, epoch: string] =>
  [`${prefix}history:{${target}}`, `${prefix}epoch:{${target}}`]
/** where gateways keep the HistoryConfig (JSON) for publishers */
export const configKey = (prefix: string): string => `${prefix}config:history`
/** the target of a channel made by channelOf */
export const targetOf = (prefix: string, channel: string): string => channel.slice(prefix.length + 4, -1)

/** how long a publisher trusts the HistoryConfig it read before reading it again */
export const CONFIG_REFRESH_MS = 5000

export function parseConfig (text: string | null | undefined): HistoryConfig {
  if (text == null) return DEFAULT_HISTORY
  try {
    const c = JSON.parse(text) as Partial<HistoryConfig>
    if (Number.isInteger(c.size) && Number.isInteger(c.ttlMs) && Array.isArray(c.rooms) && typeof c.users === 'boolean') {
      return { size: c.size!, ttlMs: c.ttlMs!, rooms: c.rooms.filter(r => typeof r === 'string'), users: c.users }
    }
  } catch {}
  return DEFAULT_HISTORY
}

/**
 * The message on a target's channel: a JSON header line, then the data's JSON text as published, so
 * a node splices the data into client frames without parsing it again.
 */
export interface EventHeader {
  event: string
  exclude?: string
  offset?: string
  epoch?: string
}

export const encodeMessage = (head: EventHeader, dataJson: string): string => JSON.stringify(head) + '\n' + dataJson

export function decodeMessage (message: string): { head: EventHeader, dataJson: string } | null {
  const nl = message.indexOf('\n')
  if (nl < 0) return null
  try {
    const head = JSON.parse(message.slice(0, nl)) as EventHeader
    if (typeof head?.event !== 'string') return null
    return { head, dataJson: message.slice(nl + 1) }
  } catch {
    return null
  }
}

/** Orders two stream ids (`<ms>-<seq>`): negative, zero or positive. */
export function compareOffsets (a: string, b: string): number {
  const da = a.indexOf('-')
  const db = b.indexOf('-')
  const ma = Number(a.slice(0, da))
  const mb = Number(b.slice(0, db))
  if (ma !== mb) return ma - mb
  return Number(a.slice(da + 1)) - Number(b.slice(db + 1))
}

export const OFFSET_PATTERN = '^\\d{1,20}-\\d{1,20}$'

// The epoch is the server's clock in µs when the key is made: a later epoch never repeats an earlier one.
const EPOCH_LUA = `
local function epoch(key, ttl)
  local e = redis.call('GET', key)
  if e then return e, false end
  local t = redis.call('TIME')
  e = t[1] .. string.format('%06d', tonumber(t[2]))
  redis.call('SET', key, e, 'PX', ttl)
  return e, true
end
`

/**
 * Publish to a target that keeps history, in one command turn: add to the history stream (bounded
 * by size, expiring after ttl), read or make the epoch (same ttl), then SPUBLISH the message with
 * offset and epoch. KEYS: stream, epoch key. ARGV: channel, size, ttl ms, event, data JSON, exclude
 * ('' for none). Returns {offset, epoch}.
 */
export const PUBLISH_LUA = EPOCH_LUA + `
local e = epoch(KEYS[2], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
local id
local head = {event = ARGV[4], epoch = e}
if ARGV[6] == '' then
  id = redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[2], '*', 'event', ARGV[4], 'data', ARGV[5])
else
  id = redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[2], '*', 'event', ARGV[4], 'data', ARGV[5], 'exclude', ARGV[6])
  head.exclude = ARGV[6]
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
head.offset = id
redis.call('SPUBLISH', ARGV[1], cjson.encode(head) .. '\\n' .. ARGV[5])
return {id, e}
`

/**
 * A target's position, and with a position to recover from, the entries after it when history still
 * holds every one of them. KEYS: stream, epoch key. ARGV: ttl ms, offset ('' = position only),
 * epoch. Returns {recovered 0|1, epoch, newest offset ('0-0' when empty), entries (when 1)}.
 * An offset is recoverable when its epoch is the current one and its entry is still in the stream
 * (trimmed or lost in a failover: it is not); '0-0' when the stream never lost an entry.
 */
export const RECOVER_LUA = EPOCH_LUA + `
local e, made = epoch(KEYS[2], ARGV[1])
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local top = '0-0'
if #last > 0 then top = last[1][1] end
if ARGV[2] == '' or made or ARGV[3] ~= e then return {0, e, top} end
if ARGV[2] == '0-0' then
  if #last > 0 then
    local info = redis.call('XINFO', 'STREAM', KEYS[1])
    for i = 1, #info, 2 do
      if info[i] == 'entries-added' and tonumber(info[i + 1]) ~= redis.call('XLEN', KEYS[1]) then return {0, e, top} end
    end
  end
  return {1, e, top, redis.call('XRANGE', KEYS[1], '-', '+')}
end
if #redis.call('XRANGE', KEYS[1], ARGV[2], ARGV[2]) == 0 then return {0, e, top} end
return {1, e, top, redis.call('XRANGE', KEYS[1], '(' .. ARGV[2], '+')}
`
