--[[
  Read-through, step 2: stores the document the reader read from PostgreSQL, only if its lease
  is still there. The version (a tombstone's, if any) stays: the reader read after that change,
  so changes up to it are already in the document, and every newer one overwrites it.

  Input:
    KEYS[1] the key (a hash: d, v, l, lx; see refresh-1.lua)
    ARGV[1] the reader's lease token
    ARGV[2] the row document
    ARGV[3] expiry in ms; 0 for none (never shortens the key's current lifetime)

  Output:
    1 stored; 0 lease lost (an invalidation came in between, or another reader took over)
]]
local key = KEYS[1]
if redis.call('HGET', key, 'l') ~= ARGV[1] then
  return 0
end
redis.call('HDEL', key, 'l', 'lx')
redis.call('HSET', key, 'd', ARGV[2])
local ttl = tonumber(ARGV[3])
local pttl = redis.call('PTTL', key)
if ttl <= 0 then
  redis.call('PERSIST', key)
elseif pttl >= 0 and pttl < ttl then
  redis.call('PEXPIRE', key, ttl)
end
return 1
