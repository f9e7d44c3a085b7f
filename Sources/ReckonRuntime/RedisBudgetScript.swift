// The one Lua script behind every operation on the shared Redis budget; the Swift side is RedisBudgetStore.swift.

/// The one Lua script behind every operation on the shared budget (docs/deployment.md).
///
/// Redis runs a script atomically, so a refill, a check and an update can never interleave
/// with another replica's. Every call, whatever its operation:
///
/// 1. refills the bucket by R·Δt on Redis's own clock (TIME), up to C − reserved;
/// 2. reclaims the reservations of replicas whose lease ran out, counting them as expired
///    (spent, for the invariant: their tokens may have been delivered); a lapsed lease that
///    held nothing is just dropped;
/// 3. renews this replica's lease, or gives it a new epoch when its old lease was reclaimed;
/// 4. applies this replica's settlements, sent as running totals so a call repeated after a
///    lost reply applies nothing twice: units reserved and spent during an outage under the
///    `local` fallback (debited even below zero: a debt), units spent out of reservations,
///    and returned reservations (both capped by what the replica holds; after its lease was
///    reclaimed, settlements up to what it held then are dropped, since step 2 counted them);
/// 5. applies its VTC charges (running totals too) and idle-group lifts;
/// 6. runs the operation (`sync`, `reserve`, `remaining`, `spend`) and returns the figures.
///
/// Units only enter through C at creation and the refill, so
/// spent + expired + reserved = C + refilled − level ≤ C + R·(now − start) while level ≥ 0.
///
/// KEYS: bucket hash, VTC hash, leases, held units, epochs (hashes by replica), and this
/// replica's applied totals.
/// ARGV: replica, epoch, C, R, unit, lease seconds, op, amount, group, forced-hold total,
/// forced-spend total, spent-held total, released total, held at the last acknowledged call,
/// then n and n (group, charge total)
/// pairs, then m and m (group, floor) pairs.
/// Reply: ok, granted, lost, epoch, level, reserved, spent, expired, refilled, elapsed,
/// live replicas, held by this replica, start, now, then the VTC hash as field, value pairs.
enum RedisBudgetScript {
    static let source = #"""
local function num(x) return string.format('%.17g', x) end
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local C, R, unit = tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
local f = redis.call('HMGET', KEYS[1], 'capacity', 'refill', 'unit', 'start', 'time', 'level', 'reserved', 'spent', 'expired', 'refilled')
local start, time, level, reserved, spent, expired, refilled
if not f[1] then
  start, time, level, reserved, spent, expired, refilled = now, now, C, 0, 0, 0, 0
else
  if tonumber(f[1]) ~= C or tonumber(f[2]) ~= R or f[3] ~= unit then
    return redis.error_reply('CONFIG the budget in ' .. KEYS[1] .. ' has capacity ' .. f[1] .. ' and refill ' .. f[2] ..
      '/s in ' .. f[3] .. '; this replica asks for ' .. ARGV[3] .. ' and ' .. ARGV[4] .. '/s in ' .. unit)
  end
  start, time, level, reserved = tonumber(f[4]), tonumber(f[5]), tonumber(f[6]), tonumber(f[7])
  spent, expired, refilled = tonumber(f[8]), tonumber(f[9]), tonumber(f[10])
end

if now > time then
  local top = math.min(C - reserved, level + R * (now - time))
  if top > level then refilled = refilled + (top - level); level = top end
  time = now
end

local leases = redis.call('HGETALL', KEYS[3])
for i = 1, #leases, 2 do
  if tonumber(leases[i + 1]) < now then
    local h = tonumber(redis.call('HGET', KEYS[4], leases[i]) or '0')
    redis.call('HDEL', KEYS[3], leases[i])
    if h > 0 then
      reserved = reserved - h
      expired = expired + h
      redis.call('HDEL', KEYS[4], leases[i])
      redis.call('HDEL', KEYS[5], leases[i])
    end
  end
end

local me = ARGV[1]
local epoch = tonumber(redis.call('HGET', KEYS[5], me) or '0')
local lost = 0
if epoch == 0 or epoch ~= tonumber(ARGV[2]) then
  if tonumber(ARGV[2]) ~= 0 then lost = 1 end
  epoch = redis.call('HINCRBY', KEYS[1], 'epochs', 1)
  redis.call('HSET', KEYS[5], me, epoch)
end
redis.call('HSET', KEYS[3], me, num(now + tonumber(ARGV[6])))
local held = tonumber(redis.call('HGET', KEYS[4], me) or '0')

local a = redis.call('HMGET', KEYS[6], 'fh', 'fs', 'sh', 'rel')
local function delta(i, j) return math.max(0, tonumber(ARGV[j]) - tonumber(a[i] or '0')) end
local fh, fs, sh, rel = delta(1, 10), delta(2, 11), delta(3, 12), delta(4, 13)
redis.call('HSET', KEYS[6], 'fh', ARGV[10], 'fs', ARGV[11], 'sh', ARGV[12], 'rel', ARGV[13])
level = level - fh; reserved = reserved + fh; held = held + fh
level = level - fs; spent = spent + fs
if lost == 1 then
  -- Up to what was reclaimed, settlements are for the reclaimed reservations: drop returns
  -- first, so no unit goes back to the bucket that may have been spent.
  local old = tonumber(ARGV[14])
  local dr = math.min(rel, old); rel = rel - dr; old = old - dr
  sh = sh - math.min(sh, old)
end
local x = math.min(sh, held)
held = held - x; reserved = reserved - x; spent = spent + x
local y = math.min(rel, held)
held = held - y; reserved = reserved - y; level = math.min(C - reserved, level + y)

local k = 16
for i = 1, tonumber(ARGV[15]) do
  local g, total = ARGV[k], tonumber(ARGV[k + 1])
  local before = tonumber(redis.call('HGET', KEYS[6], 'c:' .. g) or '0')
  if total ~= before then
    redis.call('HINCRBYFLOAT', KEYS[2], g, num(total - before))
    redis.call('HSET', KEYS[6], 'c:' .. g, ARGV[k + 1])
  end
  k = k + 2
end
local m = tonumber(ARGV[k]); k = k + 1
for i = 1, m do
  local g, floor = ARGV[k], tonumber(ARGV[k + 1])
  if tonumber(redis.call('HGET', KEYS[2], g) or '0') < floor then redis.call('HSET', KEYS[2], g, num(floor)) end
  k = k + 2
end
redis.call('EXPIRE', KEYS[6], 86400)

local op, amount, group = ARGV[7], tonumber(ARGV[8]), ARGV[9]
local ok, granted = 0, 0
if op == 'reserve' or op == 'spend' then
  if amount <= level then
    ok, granted = 1, amount
    level = level - amount
    if op == 'reserve' then reserved = reserved + amount; held = held + amount else spent = spent + amount end
    if amount > 0 then redis.call('HINCRBYFLOAT', KEYS[2], group, num(amount)) end
  end
elseif op == 'remaining' then
  ok, granted = 1, math.max(0, level)
  level = level - granted; reserved = reserved + granted; held = held + granted
  if granted > 0 then redis.call('HINCRBYFLOAT', KEYS[2], group, num(granted)) end
end

redis.call('HSET', KEYS[1], 'capacity', num(C), 'refill', num(R), 'unit', unit, 'start', num(start), 'time', num(time),
  'level', num(level), 'reserved', num(reserved), 'spent', num(spent), 'expired', num(expired), 'refilled', num(refilled))
if held > 0 then redis.call('HSET', KEYS[4], me, num(held)) else redis.call('HDEL', KEYS[4], me) end

local out = {tostring(ok), num(granted), tostring(lost), tostring(epoch), num(level), num(reserved), num(spent), num(expired),
  num(refilled), num(now - start), tostring(redis.call('HLEN', KEYS[3])), num(held), num(start), num(now)}
local v = redis.call('HGETALL', KEYS[2])
for i = 1, #v do out[#out + 1] = v[i] end
return out
"""#
}
