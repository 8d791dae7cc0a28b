--[[
  Evicts a key if the change is newer than what it holds: the document and any lease go, and a
  tombstone (the version alone) stays for a while, so an older change that arrives late (a
  retry, a replay) cannot bring the document back.

  Input:
    KEYS[1] the key (a hash: d, v, l, lx; see refresh-1.lua)
    ARGV[1] version of the change (32 hex digits)
    ARGV[2] lifetime of the tombstone in ms

  Output:
    1 applied; 0 stale (the key already holds this version or a newer one)
]]
--- @include "compareVersions"

local key = KEYS[1]
local current = redis.call('HGET', key, 'v')
if current and compareVersions(current, ARGV[1]) >= 0 then
  return 0
end
redis.call('DEL', key)
redis.call('HSET', key, 'v', ARGV[1])
redis.call('PEXPIRE', key, tonumber(ARGV[2]))
return 1
