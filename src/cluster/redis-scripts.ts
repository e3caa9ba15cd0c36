/**
 * @module cluster/redis-scripts
 * The Lua scripts of the Redis protection store: each is one round trip and runs atomically
 * in Redis, so replicas scoring the same address at once cannot both miss the threshold nor
 * both ban. The arithmetic is the defender's (security/sliding-score, security/defender):
 * a sliding window estimated from two fixed windows, bans doubling per repeat offence up to
 * banTimeMaxMs, offences remembered for banTimeMaxMs after a ban ends. Every key written
 * gets a TTL; ban changes are published on the store's channel in the same script.
 *
 * Numbers cross as decimal strings (Lua numbers print with 14 significant digits: epoch
 * milliseconds fit). Key layout (prefix P, all under the hash tag {P}):
 *   {P}:s:<key>          hash ws/cur/prev   address score       TTL 2 windows
 *   {P}:u:<user>         hash ws/cur/prev   user-name score     TTL 2 windows
 *   {P}:t:<key> <user>   string             key logged in as user  TTL given
 *   {P}:b:<key>          hash               active ban          TTL until its end
 *   {P}:o:<key>          hash count/forgetAt offence history    TTL ban + banTimeMaxMs
 *   {P}:bans             zset key -> until  ban index           TTL the longest ban
 *   {P}:us:<user>        zset holder -> lease end   session slots  TTL one lease
 *   {P}:epoch            string             data-set id         TTL 30 days
 */

/** Shared functions: the sliding score and the ban (KEYS given as arguments). */
const LIB = `
local function slide(k, pts, now, win)
  local h = redis.call('HMGET', k, 'ws', 'cur', 'prev')
  local ws = tonumber(h[1]) or now
  local cur = tonumber(h[2]) or 0
  local prev = tonumber(h[3]) or 0
  local el = now - ws
  if el >= win then
    if el < 2 * win then prev = cur; ws = ws + win else prev = 0; ws = now end
    cur = 0
  end
  cur = cur + pts
  redis.call('HSET', k, 'ws', ws, 'cur', cur, 'prev', prev)
  redis.call('PEXPIRE', k, 2 * win)
  local overlap = 1 - math.min(1, math.max(0, now - ws) / win)
  return cur + prev * overlap
end

local function store_ban(bkey, index, okey, skey, key, since, untilT, offences, reason, manual, banMax, channel, now)
  local ttl = math.max(1, untilT - now)
  redis.call('HSET', bkey, 'since', since, 'until', untilT, 'offences', offences, 'reason', reason, 'manual', manual)
  redis.call('PEXPIRE', bkey, ttl)
  redis.call('HSET', okey, 'count', offences, 'forgetAt', untilT + banMax)
  redis.call('PEXPIRE', okey, ttl + banMax)
  redis.call('DEL', skey)
  redis.call('ZREMRANGEBYSCORE', index, '-inf', now)
  redis.call('ZADD', index, untilT, key)
  if redis.call('PTTL', index) < ttl then redis.call('PEXPIRE', index, ttl) end
  local ban = {key = key, since = since, ['until'] = untilT, offences = offences, reason = reason, manual = (manual == '1')}
  local text = cjson.encode(ban)
  redis.call('PUBLISH', channel, cjson.encode({type = 'ban', ban = ban}))
  return text
end

local function grow_ban(bkey, index, okey, skey, key, now, duration, reason, manual, banTime, banMax, channel)
  local off = redis.call('HMGET', okey, 'count', 'forgetAt')
  local offences = 1
  if off[1] and tonumber(off[2]) > now then offences = tonumber(off[1]) + 1 end
  local d = duration
  if d == nil then d = math.min(banMax, banTime * math.pow(2, math.min(offences - 1, 40))) end
  return store_ban(bkey, index, okey, skey, key, now, math.floor(now + d), offences, reason, manual, banMax, channel, now)
end
`;

/**
 * KEYS: score, user score, trust, ban, ban index, offences.
 * ARGV: now, window, points, userPoints, hasUser, threshold, banTime, banMax, reason, channel, key.
 * Returns [score, userScore, trusted 0|1, the ban's JSON or ''].
 */
export const SCORE_SCRIPT = `${LIB}
local now = tonumber(ARGV[1]); local win = tonumber(ARGV[2]); local pts = tonumber(ARGV[3])
local upts = tonumber(ARGV[4]); local hasUser = ARGV[5] == '1'; local threshold = tonumber(ARGV[6])
local score = slide(KEYS[1], pts, now, win)
local userScore = 0
local trusted = 0
if hasUser then
  if upts > 0 then userScore = slide(KEYS[2], upts, now, win) end
  trusted = redis.call('EXISTS', KEYS[3])
end
local ban = ''
if pts > 0 and score >= threshold and redis.call('EXISTS', KEYS[4]) == 0 then
  ban = grow_ban(KEYS[4], KEYS[5], KEYS[6], KEYS[1], ARGV[11], now, nil, ARGV[9], '0', tonumber(ARGV[7]), tonumber(ARGV[8]), ARGV[10])
end
return {tostring(score), tostring(userScore), trusted, ban}
`;

/**
 * KEYS: ban, ban index, offences, score.
 * ARGV: now, durationMs ('' = grow), reason, manual 0|1, banTime, banMax, channel, key.
 * Returns the ban's JSON.
 */
export const BAN_SCRIPT = `${LIB}
local now = tonumber(ARGV[1])
return grow_ban(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[8], now, tonumber(ARGV[2]), ARGV[3], ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7])
`;

/**
 * KEYS: ban, ban index, offences, score.
 * ARGV: now, since, until, offences, reason, manual 0|1, banMax, channel, key.
 * Returns 1 when put back, 0 when a ban ending as late or later is already there.
 */
export const RESTORE_SCRIPT = `${LIB}
local now = tonumber(ARGV[1]); local untilT = tonumber(ARGV[3])
if untilT <= now then return 0 end
local current = tonumber(redis.call('HGET', KEYS[1], 'until'))
if current and current >= untilT then return 0 end
store_ban(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[9], tonumber(ARGV[2]), untilT, tonumber(ARGV[4]), ARGV[5], ARGV[6], tonumber(ARGV[7]), ARGV[8], now)
return 1
`;

/** KEYS: ban, ban index, offences, score. ARGV: channel, key. Returns 1 when a ban was lifted. */
export const LIFT_SCRIPT = `
local banned = redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('DEL', KEYS[3], KEYS[4])
if banned == 1 then redis.call('PUBLISH', ARGV[1], cjson.encode({type = 'lift', key = ARGV[2]})) end
return banned
`;

/** KEYS: ban index. ARGV: now, ban key prefix. Returns the active bans' JSON texts. */
export const BANS_SCRIPT = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local out = {}
for _, key in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local h = redis.call('HMGET', ARGV[2] .. key, 'since', 'until', 'offences', 'reason', 'manual')
  if h[2] then
    table.insert(out, cjson.encode({key = key, since = tonumber(h[1]), ['until'] = tonumber(h[2]), offences = tonumber(h[3]), reason = h[4], manual = (h[5] == '1')}))
  else
    redis.call('ZREM', KEYS[1], key)
  end
end
return out
`;

/** KEYS: the user's slots. ARGV: now, holder, max, leaseMs. Returns 1 (claimed) or 0 (full). */
export const CLAIM_SCRIPT = `
local now = tonumber(ARGV[1]); local max = tonumber(ARGV[3]); local lease = tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if max > 0 and not redis.call('ZSCORE', KEYS[1], ARGV[2]) and redis.call('ZCARD', KEYS[1]) >= max then return 0 end
redis.call('ZADD', KEYS[1], now + lease, ARGV[2])
redis.call('PEXPIRE', KEYS[1], lease)
return 1
`;

/** KEYS: epoch. ARGV: a fresh id, ttlMs. Returns the store's id (the fresh one if it had none). */
export const EPOCH_SCRIPT = `
local id = redis.call('GET', KEYS[1])
if not id then id = ARGV[1]; redis.call('SET', KEYS[1], id) end
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
return id
`;
