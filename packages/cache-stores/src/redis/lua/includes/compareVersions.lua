--[[
  Compares two fence versions (32 lower-case hex digits: commitLsn, then lsn) in four 32-bit
  pieces. Lua compares strings with strcoll and numbers as doubles: neither is exact for a
  128-bit value, 32-bit pieces are.
  Returns -1 when a is older than b, 0 when equal, 1 when newer.
]]
local function compareVersions(a, b)
  for i = 1, 32, 8 do
    local x = tonumber(string.sub(a, i, i + 7), 16)
    local y = tonumber(string.sub(b, i, i + 7), 16)
    if x < y then return -1 end
    if x > y then return 1 end
  end
  return 0
end
