-- The routes NGINX serves straight from the caches. Each names what the cdc-cache config names
-- for the same route (services.readApi.routes, or the rule's first key by default) and the
-- store's keyPrefix, so NGINX, the read-api and the cache-invalidator compute the same key:
--   path   the GET path, `{column}` placeholders as whole segments
--   table  schema.table (its generation, bumped by TRUNCATE, is part of every key)
--   key    the rule's key template, exactly as in the config
--   store  "redis" or "memcached"
--   prefix stores.<store>.keyPrefix
-- Memcached servers are the `cdc_memcached` upstream in nginx.conf, written exactly as in
-- stores.memcached.servers (the consistent hash ring is computed from those names).
-- These match examples/cdc-cache.yaml. Any other path is 404.
return {
  { path = "/v1/users/{id}", table = "public.users", key = "user:{id}", store = "redis", prefix = "" },
  { path = "/v1/products/{id}", table = "public.products", key = "product:{id}", store = "memcached", prefix = "" },
}
