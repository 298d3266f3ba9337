"""Redis Lua scripts behind quotas: each runs atomically on the Redis server.

Keys of one tenant (T) and month (P):
  usage:T:P       hash  monthly metrics used (every metric of `metrics.METRICS` but the gauges)
  usage:T:gauge   hash  gauge metrics' levels (storage), and `ready` (the month) once the counters
                        were built from the ledger (lost with everything else on a Redis restart)
  usage:T:resv    hash  reserved by admitted, unfinished renders (all metrics)
  usage:resv:R    hash  what render R still holds of that reservation
  usage:T:active  set   unfinished render ids (per-tenant concurrency)
  usage:active    set   unfinished render ids of every tenant (global queue depth)
  usage:T:applied set   ledger event keys already added to the counters (exactly once)
"""

from __future__ import annotations

import functools


def _lua_list(names: tuple[str, ...]) -> str:
    return "{" + ", ".join(f"'{name}'" for name in names) + "}"


# The ADMIT script is written for the registered metrics (`admit_source(METRICS.names())`).
# KEYS: used, gauge, resv, render_resv, active, global_active
# ARGV: render_id, the plan as the JSON array [concurrency, max_queue, limit, limit, ...] and the
# request as [amount, amount, ...], metrics in `names` order, limit -1 = unlimited. (Packed into
# two arguments because each argument costs time on every submission; see bench/quota_admission.py.)
# Returns the status "OK" | {"not_ready"} | {"quota", metric, used, limit, requested}
# | {"concurrency", n, max} | {"queue", n, max}
# Three HMGETs read everything (a metric lives in the monthly hash or in the gauge hash, never
# both), one HSET writes the tenant's new reservation and one the render's.
_ADMIT = """
local names = NAMES
local n = #names
local gauge = redis.call('HMGET', KEYS[2], 'ready', unpack(names))
if not gauge[1] then return {'not_ready'} end
local monthly = redis.call('HMGET', KEYS[1], unpack(names))
local held = redis.call('HMGET', KEYS[3], unpack(names))
local plan, request = cjson.decode(ARGV[2]), cjson.decode(ARGV[3])
local tenant_resv, render_resv = {}, {}
for i = 1, n do
  local limit = plan[2 + i]
  local reserved = tonumber(held[i] or '0')
  if limit >= 0 then
    local used = tonumber(monthly[i] or gauge[i + 1] or '0') + reserved
    if used + request[i] > limit + 1e-9 then
      return {'quota', names[i], tostring(used), tostring(limit), tostring(request[i])}
    end
  end
  tenant_resv[2 * i - 1], tenant_resv[2 * i] = names[i], reserved + request[i]
  render_resv[2 * i - 1], render_resv[2 * i] = names[i], request[i]
end
local active = redis.call('SCARD', KEYS[5])
if active >= plan[1] then return {'concurrency', tostring(active), tostring(plan[1])} end
local queued = redis.call('SCARD', KEYS[6])
if queued >= plan[2] then return {'queue', tostring(queued), tostring(plan[2])} end
redis.call('HSET', KEYS[3], unpack(tenant_resv))
redis.call('HSET', KEYS[4], unpack(render_resv))
redis.call('SADD', KEYS[5], ARGV[1])
redis.call('SADD', KEYS[6], ARGV[1])
return redis.status_reply('OK')
"""


@functools.lru_cache(maxsize=8)
def admit_source(names: tuple[str, ...]) -> str:
    """The ADMIT script for these metric names (the request and limits come in this order)."""
    return _ADMIT.replace("NAMES", _lua_list(names), 1)


# KEYS: counter (monthly hash or gauge), resv, render_resv, applied
# ARGV: event_key, metric, amount
# Adds the amount once per event key and moves the same amount out of the reservation.
APPLY = """
if redis.call('SADD', KEYS[4], ARGV[1]) == 0 then return 0 end
local amount = tonumber(ARGV[3])
redis.call('HINCRBYFLOAT', KEYS[1], ARGV[2], amount)
if amount > 0 then
  local held = tonumber(redis.call('HGET', KEYS[3], ARGV[2]) or '0')
  local take = math.min(held, amount)
  if take > 0 then
    redis.call('HINCRBYFLOAT', KEYS[3], ARGV[2], -take)
    redis.call('HINCRBYFLOAT', KEYS[2], ARGV[2], -take)
  end
end
return 1
"""

# KEYS: resv, render_resv, active, global_active
# ARGV: render_id
# Gives back what the render still holds and frees its concurrency slot.
RELEASE = """
local held = redis.call('HGETALL', KEYS[2])
for i = 1, #held, 2 do
  local v = tonumber(held[i + 1])
  if v > 0 then redis.call('HINCRBYFLOAT', KEYS[1], held[i], -v) end
end
redis.call('DEL', KEYS[2])
redis.call('SREM', KEYS[3], ARGV[1])
redis.call('SREM', KEYS[4], ARGV[1])
return #held / 2
"""

# KEYS: resv, render_resv, active, global_active
# ARGV: render_id, then per metric: name, amount still held
# Restores an unfinished render's reservation after a Redis restart (only if absent).
RESTORE = """
if redis.call('SISMEMBER', KEYS[3], ARGV[1]) == 1 then return 0 end
for i = 2, #ARGV, 2 do
  local v = tonumber(ARGV[i + 1])
  if v > 0 then
    redis.call('HINCRBYFLOAT', KEYS[1], ARGV[i], v)
    redis.call('HSET', KEYS[2], ARGV[i], v)
  end
end
redis.call('SADD', KEYS[3], ARGV[1])
redis.call('SADD', KEYS[4], ARGV[1])
return 1
"""
