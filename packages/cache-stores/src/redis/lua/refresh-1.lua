--[[
  Writes a row's new document if the change is newer than what the key holds (a value or a
  tombstone), and takes any lease away (a reader that read PostgreSQL before this change must
  not store its copy).

  A key is a hash: d = the row document (what NGINX and readers serve), v = the version of the
  change that wrote it or evicted it, l/lx = a reader's lease token and its expiry (ms).

  Input:
    KEYS[1] the key
    ARGV[1] version of the change (32 hex digits, see version.ts)
    ARGV[2] the row document
    ARGV[3] expiry in ms; 0 for none

  Output:
    1 applied; 0 stale (the key already holds this version or a newer one: nothing changed)
]]
--- @include "compareVersions"

local key = KEYS[1]
local current = redis.call('HGET', key, 'v')
if current and compareVersions(current, ARGV[1]) >= 0 then
  return 0
end
redis.call('HSET', key, 'd', ARGV[2], 'v', ARGV[1])
redis.call('HDEL', key, 'l', 'lx')
local ttl = tonumber(ARGV[3])
if ttl > 0 then
  redis.call('PEXPIRE', key, ttl)
else
  redis.call('PERSIST', key)
end
return 1
