-- Debian's lua-nginx-redis installs lua-resty-redis as `nginx.redis`; code written for OpenResty
-- (and its docs) says require("resty.redis"). This maps the standard name onto Debian's module.
return require("nginx.redis")
