//! The Lua scripts that keep each multi-key change atomic on Redis.

use redis::Script;

/// Lua that sets `now_ms` from Redis' own clock (`TIME`), so that nodes with skewed clocks agree on expiry times.
macro_rules! now_ms_lua {
    () => {
        "local t = redis.call('TIME')\nlocal now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    };
}

/// Assigns the next offset, appends to the bounded history and publishes on the topic's channel, in one step:
/// offsets are never skipped or doubled, and every node sees the topic's publications in offset order.
///
/// KEYS: meta, history. ARGV: payload, history size, history TTL (s), meta TTL (s), epoch for a new stream,
/// channel. Returns `{epoch, offset}`.
const PUBLISH: &str = r#"
local epoch = redis.call('HGET', KEYS[1], 'e')
if not epoch then
  epoch = ARGV[5]
  redis.call('HSET', KEYS[1], 'e', epoch)
  -- A new stream: whatever history an old one left belongs to another epoch.
  redis.call('DEL', KEYS[2])
end
local offset = redis.call('HINCRBY', KEYS[1], 'o', 1)
redis.call('EXPIRE', KEYS[1], ARGV[4])
local size = tonumber(ARGV[2])
if size > 0 then
  redis.call('RPUSH', KEYS[2], ARGV[1])
  redis.call('LTRIM', KEYS[2], -size, -1)
  redis.call('EXPIRE', KEYS[2], ARGV[3])
end
redis.call('PUBLISH', ARGV[6], 'p' .. epoch .. ' ' .. offset .. ' ' .. ARGV[1])
return {epoch, offset}
"#;

/// Reads the publications after a position. The list holds a contiguous run of offsets ending at the last one,
/// so the oldest retained offset is `last - length + 1`.
///
/// KEYS: meta, history. ARGV: the offset after which to read (-1: from the oldest), the epoch that offset is in,
/// limit. Returns `{epoch, last offset, oldest retained offset, payloads}`; the epoch is empty when
/// the topic has no stream.
const HISTORY: &str = r#"
local meta = redis.call('HMGET', KEYS[1], 'e', 'o')
if not meta[1] then
  return {'', 0, 1, {}}
end
local last = tonumber(meta[2] or '0')
local oldest = last - redis.call('LLEN', KEYS[2]) + 1
local from = tonumber(ARGV[1]) + 1
if ARGV[1] == '-1' or ARGV[2] ~= meta[1] then
  from = oldest
end
if from < oldest then
  from = oldest
end
local to = math.min(last, from + tonumber(ARGV[3]) - 1)
local items = {}
if to >= from then
  items = redis.call('LRANGE', KEYS[2], from - oldest, to - oldest)
end
return {meta[1], last, oldest, items}
"#;

/// Starts a new epoch for a topic whose stream diverged (a node delivered publications while Redis was out of
/// reach): every position in the old epoch now reads as a gap.
///
/// KEYS: meta, history. ARGV: the new epoch, meta TTL (s).
const RESET: &str = r#"
redis.call('HSET', KEYS[1], 'e', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('DEL', KEYS[2])
return 1
"#;

/// Adds or replaces a member, keeping its join order when it was there already.
///
/// Expiry times are on Redis' clock (`TIME`), so that nodes with skewed clocks agree.
///
/// KEYS: members, expiry, join counter. ARGV: session, member JSON, TTL (ms), key TTL (s).
const PRESENCE_ADD: &str = concat!(
    now_ms_lua!(),
    "local expiry = now_ms + tonumber(ARGV[3])\n",
    r#"
local old = redis.call('HGET', KEYS[1], ARGV[1])
local seq
if old then
  seq = string.match(old, '^(%d+) ')
else
  seq = redis.call('INCR', KEYS[3])
end
redis.call('HSET', KEYS[1], ARGV[1], seq .. ' ' .. ARGV[2])
redis.call('ZADD', KEYS[2], expiry, ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('EXPIRE', KEYS[2], ARGV[4])
return 1
"#
);

/// Pushes a member's expiry forward, if it is still a member (one that left meanwhile is not brought back).
///
/// KEYS: members, expiry. ARGV: session, TTL (ms), key TTL (s). Returns 0 when it is not a member.
const PRESENCE_REFRESH: &str = concat!(
    r#"
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then
  return 0
end
"#,
    now_ms_lua!(),
    "local expiry = now_ms + tonumber(ARGV[2])\n",
    r#"redis.call('ZADD', KEYS[2], expiry, ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[3])
return 1
"#
);

/// Removes a member; returns its entry, or nil.
///
/// KEYS: members, expiry. ARGV: session.
const PRESENCE_REMOVE: &str = r#"
local old = redis.call('HGET', KEYS[1], ARGV[1])
if old then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
end
return old
"#;

/// Drops the members whose expiry passed (their node stopped refreshing them), then lists the room.
///
/// KEYS: members, expiry. Returns `{live entries, expired entries}`.
const PRESENCE_LIST: &str = concat!(
    now_ms_lua!(),
    r#"
local cutoff = now_ms
local gone = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', cutoff)
local expired = {}
for _, session in ipairs(gone) do
  local entry = redis.call('HGET', KEYS[1], session)
  if entry then
    table.insert(expired, entry)
    redis.call('HDEL', KEYS[1], session)
  end
end
if #gone > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', cutoff)
end
return {redis.call('HVALS', KEYS[1]), expired}
"#
);

/// The scripts, with their digests computed once.
pub(crate) struct Scripts {
    pub(crate) publish: Script,
    pub(crate) history: Script,
    pub(crate) reset: Script,
    pub(crate) presence_add: Script,
    pub(crate) presence_refresh: Script,
    pub(crate) presence_remove: Script,
    pub(crate) presence_list: Script,
}

impl Scripts {
    pub(crate) fn new() -> Self {
        Scripts {
            publish: Script::new(PUBLISH),
            history: Script::new(HISTORY),
            reset: Script::new(RESET),
            presence_add: Script::new(PRESENCE_ADD),
            presence_refresh: Script::new(PRESENCE_REFRESH),
            presence_remove: Script::new(PRESENCE_REMOVE),
            presence_list: Script::new(PRESENCE_LIST),
        }
    }
}
