--[[
  Read-through, step 1: returns the document if the key holds one; otherwise gives the caller a
  lease on the key unless another reader holds a live one. Every refresh and evict removes the
  lease, so a reader whose lease survives until it stores read PostgreSQL after the last
  invalidation (Meta's memcache leases).

  Input:
    KEYS[1] the key (a hash: d, v, l, lx; see refresh-1.lua)
    ARGV[1] lease token (unique per reader and read)
    ARGV[2] lease lifetime in ms

  Output:
    { 1, document } a hit
    { 2 }           another reader holds a live lease: wait for its value
    { 3 }           lease granted: read PostgreSQL, then fill-1 with the same token
]]
local key = KEYS[1]
local state = redis.call('HMGET', key, 'd', 'l', 'lx')
if state[1] then
  return { 1, state[1] }
end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
if state[2] and tonumber(state[3] or '0') > now then
  return { 2 }
end
local lifetime = tonumber(ARGV[2])
local existed = redis.call('EXISTS', key)
redis.call('HSET', key, 'l', ARGV[1], 'lx', now + lifetime)
local pttl = redis.call('PTTL', key)
if existed == 0 or (pttl >= 0 and pttl < lifetime) then
  -- A key made for the lease alone goes away with it; a tombstone outlives the lease.
  redis.call('PEXPIRE', key, lifetime)
end
return { 3 }
