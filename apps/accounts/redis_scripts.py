"""Lua scripts of scan login and the password login throttle (STYLE.md 5: every key via KEYS, no clock,
registered once per client).

A login ticket is one Redis hash, ``gbm:login:ticket:{ticket}``, created with a TTL::

    state  waiting | confirmed
    user   the confirming user's id (once confirmed)
    owner  sha256 of the issuing browser session's binding secret (never empty; an empty or missing
           owner, e.g. a ticket from before every ticket was bound, can be collected by nobody)

"expired" is not stored: it is the key being gone (TTL ran out, or the ticket was consumed).
"""

from apps.common.redis_scripts import RedisScript

# KEYS[1] the ticket hash; ARGV[1] the confirming user's id; ARGV[2] minimum ms left after confirming.
# Returns 'confirmed' (now, or earlier by the same user: WeChat re-delivers), 'taken' (another user
# confirmed first) or 'expired' (no such ticket). Fields changed by HSET keep the key's TTL; it is
# only stretched to ARGV[2] so that a confirmation in the last second still reaches the polling page.
LOGIN_TICKET_CONFIRM = RedisScript(
    "login_ticket_confirm",
    """
local state = redis.call('HGET', KEYS[1], 'state')
if not state then
  return 'expired'
end
if state == 'waiting' then
  redis.call('HSET', KEYS[1], 'state', 'confirmed', 'user', ARGV[1])
  if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
  end
  return 'confirmed'
end
if redis.call('HGET', KEYS[1], 'user') == ARGV[1] then
  return 'confirmed'
end
return 'taken'
""",
)

# KEYS[1] the ticket hash; ARGV[1] the poller's owner hash ('' when it has no binding).
# Returns {status, user id}: {'confirmed', id} exactly once (the key is deleted in the same step),
# {'waiting', ''} or {'expired', ''}. To any poller but the owner the ticket stays 'waiting' and is left
# untouched: another browser can neither collect a login nor use up the rightful browser's one.
LOGIN_TICKET_CONSUME = RedisScript(
    "login_ticket_consume",
    """
local record = redis.call('HMGET', KEYS[1], 'state', 'owner', 'user')
local state, owner, user = record[1], record[2], record[3]
if not state then
  return {'expired', ''}
end
if not owner or owner == '' or owner ~= ARGV[1] then
  return {'waiting', ''}
end
if state == 'confirmed' then
  redis.call('DEL', KEYS[1])
  return {'confirmed', user}
end
return {'waiting', ''}
""",
)


# --- password login throttle (apps/accounts/throttle.py) -------------------------------------------
# Two counters of failed attempts, each with the window's TTL set by its first failure.
#
# KEYS[1] the username's failures, KEYS[2] the client address's failures
# ARGV[1] account limit, ARGV[2] address limit (0 = that counter is off), ARGV[3] window in seconds
# Returns {1, 0, 0} when allowed: the attempt is counted on both (given back by RELEASE on success);
# {0, retry_after_seconds, which} when a counter is at its limit (which: 1 account, 2 address):
# nothing is counted, the attempt is not even made.
LOGIN_THROTTLE_RESERVE = RedisScript(
    "login_throttle_reserve",
    """
local refused, wait = 0, 0
for i = 1, 2 do
  local limit = tonumber(ARGV[i])
  if limit > 0 and tonumber(redis.call('GET', KEYS[i]) or '0') >= limit then
    local ttl = redis.call('TTL', KEYS[i])
    if ttl < 0 then
      redis.call('EXPIRE', KEYS[i], ARGV[3])
      ttl = tonumber(ARGV[3])
    end
    if refused == 0 or ttl > wait then
      refused, wait = i, ttl
    end
  end
end
if refused > 0 then
  return {0, wait, refused}
end
for i = 1, 2 do
  if tonumber(ARGV[i]) > 0 and redis.call('INCR', KEYS[i]) == 1 then
    redis.call('EXPIRE', KEYS[i], ARGV[3])
  end
end
return {1, 0, 0}
""",
)

# KEYS[1] the username's failures, KEYS[2] the address's failures; ARGV[1], ARGV[2]: 1 if RESERVE counted
# the attempt there. The attempt succeeded: the account's failures are cleared, the address's slot given back.
LOGIN_THROTTLE_RELEASE = RedisScript(
    "login_throttle_release",
    """
if ARGV[1] == '1' then
  redis.call('DEL', KEYS[1])
end
if ARGV[2] == '1' and tonumber(redis.call('GET', KEYS[2]) or '0') > 0 then
  redis.call('DECR', KEYS[2])
end
return 1
""",
)
