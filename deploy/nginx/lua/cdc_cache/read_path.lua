-- The cache hit path of NGINX. For a configured route it renders the key exactly as
-- packages/core/src/key-template.ts does (values percent-encoded, `g<N>@` after the prefix for
-- the table's generation N >= 1), then:
--   redis:     HGET <generation key> g, then HGET <key> d (the row document) with lua-resty-redis;
--   memcached: reads the generation through the core memcached module (a subrequest), then hands
--              the request to @cdc_memcached, where memcached_pass serves the value as it is.
-- A hit is answered with `X-Cache: HIT`; a miss, a key too long to send (it would be hashed), or
-- any cache error goes to the read-api (@cdc_read_api), which reads through with a lease.
local redis = require("resty.redis")

local _M = {}

local settings = {
  redis = { host = "127.0.0.1", port = 6379, timeout_ms = 200, pool_size = 64 },
  routes = {},
}

-- Keys longer than these are hashed by the key template; NGINX leaves them to the read-api.
local MAX_KEY_BYTES = { redis = 1024, memcached = 248 }

local function parse_template(text)
  local parts, literal, i = {}, {}, 1
  while i <= #text do
    local c = text:sub(i, i)
    if c == "\\" then
      literal[#literal + 1] = text:sub(i + 1, i + 1)
      i = i + 2
    elseif c == "{" then
      local close = text:find("}", i, true)
      if #literal > 0 then parts[#parts + 1] = { literal = table.concat(literal) } end
      literal = {}
      parts[#parts + 1] = { column = text:sub(i + 1, close - 1) }
      i = close + 1
    else
      literal[#literal + 1] = c
      i = i + 1
    end
  end
  if #literal > 0 then parts[#parts + 1] = { literal = table.concat(literal) } end
  return parts
end

local function parse_path(path)
  local segments = {}
  for segment in path:gmatch("[^/]+") do
    segments[#segments + 1] = { column = segment:match("^{(.+)}$"), text = segment }
  end
  return segments
end

function _M.configure(options)
  for name, value in pairs(options.redis or {}) do settings.redis[name] = value end
  settings.routes = {}
  for _, route in ipairs(options.routes or {}) do
    settings.routes[#settings.routes + 1] = {
      segments = parse_path(route.path),
      table = route.table,
      parts = parse_template(route.key),
      store = route.store,
      prefix = route.prefix or "",
    }
  end
end

-- encodeKeyValue: every byte outside A-Z a-z 0-9 - . _ ~ becomes %XX (upper-case hex).
local function encode_value(value)
  return (value:gsub("[^A-Za-z0-9._~-]", function(c)
    return string.format("%%%02X", c:byte())
  end))
end

local function match(route, segments)
  if #segments ~= #route.segments then return nil end
  local params = {}
  for i, pattern in ipairs(route.segments) do
    local segment = segments[i]
    if pattern.column then
      if segment == "" then return nil end
      params[pattern.column] = ngx.unescape_uri(segment)
    elseif pattern.text ~= segment then
      return nil
    end
  end
  return params
end

local function render(route, params, generation)
  local out = { route.prefix }
  if generation > 0 then out[#out + 1] = "g" .. generation .. "@" end
  for _, part in ipairs(route.parts) do
    out[#out + 1] = part.literal or encode_value(params[part.column])
  end
  return table.concat(out)
end

local function to_read_api()
  return ngx.exec("@cdc_read_api")
end

local function serve_redis(route, params)
  local red = redis:new()
  red:set_timeout(settings.redis.timeout_ms)
  local ok = red:connect(settings.redis.host, settings.redis.port)
  if not ok then return to_read_api() end
  local generation = red:hget(route.prefix .. "@gen:" .. route.table, "g")
  if not generation then
    red:close()
    return to_read_api()
  end
  local key = render(route, params, tonumber(generation) or 0)
  if #key > MAX_KEY_BYTES.redis then
    red:set_keepalive(60000, settings.redis.pool_size)
    return to_read_api()
  end
  local document = red:hget(key, "d")
  if not document then
    red:close()
    return to_read_api()
  end
  red:set_keepalive(60000, settings.redis.pool_size)
  if document == ngx.null then return to_read_api() end
  ngx.header["Content-Type"] = "application/json"
  ngx.header["X-Cache"] = "HIT"
  ngx.print(document)
end

local function serve_memcached(route, params)
  local route_key = render(route, params, 0)
  -- The generation copy on the server of this key (the ring hashes the route: the key at generation 0).
  local generation_item = ngx.location.capture("/_cdc/memcached", {
    vars = { memcached_key = route.prefix .. "@gen:" .. route.table, cdc_route = route_key },
  })
  local generation = 0
  if generation_item.status == ngx.HTTP_OK then
    generation = tonumber(generation_item.body:match("^(%d+)")) or 0
  elseif generation_item.status ~= ngx.HTTP_NOT_FOUND then
    return to_read_api()
  end
  local key = render(route, params, generation)
  -- The memcached module sends the key with "%" escaped as "%25" (the stores write that form);
  -- a key that is too long escaped was stored under a hashed name: the read-api finds it.
  local _, escapes = key:gsub("%%", "")
  if #key + 2 * escapes > MAX_KEY_BYTES.memcached then return to_read_api() end
  ngx.var.memcached_key = key
  ngx.var.cdc_route = route_key
  return ngx.exec("@cdc_memcached")
end

function _M.serve()
  local method = ngx.req.get_method()
  if method ~= "GET" and method ~= "HEAD" then return ngx.exit(ngx.HTTP_NOT_ALLOWED) end
  local path = ngx.var.request_uri:match("^[^?]*")
  -- The raw path (NGINX's $uri is already decoded), split at every "/", empty segments kept.
  local segments = {}
  for segment in (path:sub(2) .. "/"):gmatch("([^/]*)/") do segments[#segments + 1] = segment end
  for _, route in ipairs(settings.routes) do
    local params = match(route, segments)
    if params then
      if route.store == "redis" then return serve_redis(route, params) end
      return serve_memcached(route, params)
    end
  end
  return ngx.exit(ngx.HTTP_NOT_FOUND)
end

return _M
