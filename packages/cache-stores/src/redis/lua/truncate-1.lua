--[[
  Invalidates a whole table: bumps its generation number, which is part of every key of the
  table (`g<N>@`), unless this truncate (or a newer one) was already applied. A truncate is
  written to every partition of the topic, so the same truncate arrives several times.

  Input:
    KEYS[1] the table's generation key (a hash: g = generation, v = version of the last truncate)
    ARGV[1] version of the truncate (32 hex digits)

  Output:
    { applied (1 or 0), generation after the call }
]]
--- @include "compareVersions"

local key = KEYS[1]
local state = redis.call('HMGET', key, 'g', 'v')
local generation = tonumber(state[1] or '0')
if state[2] and compareVersions(state[2], ARGV[1]) >= 0 then
  return { 0, generation }
end
generation = generation + 1
redis.call('HSET', key, 'g', generation, 'v', ARGV[1])
return { 1, generation }
