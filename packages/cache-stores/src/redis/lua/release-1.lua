--[[
  Gives a lease back without storing (the row does not exist, or PostgreSQL failed), so other
  readers need not wait for it to expire. A key that held nothing but the lease disappears.

  Input:
    KEYS[1] the key (a hash: d, v, l, lx; see refresh-1.lua)
    ARGV[1] the reader's lease token

  Output:
    1 released; 0 the lease was no longer the caller's
]]
local key = KEYS[1]
if redis.call('HGET', key, 'l') ~= ARGV[1] then
  return 0
end
redis.call('HDEL', key, 'l', 'lx')
return 1
