package redis

import (
	"crypto/sha1"
	"encoding/hex"
)

// script is a Lua script run with EVALSHA, falling back to EVAL when the
// server does not have it cached (NOSCRIPT: after a restart or SCRIPT
// FLUSH). EVAL also caches it, so the fallback happens once per server.
type script struct {
	name   string
	src    string
	sha    string
	shaArg any // sha boxed once, so building a command does not allocate it
}

func newScript(name, src string) *script {
	h := sha1.Sum([]byte(src))
	sha := hex.EncodeToString(h[:])
	return &script{name: name, src: src, sha: sha, shaArg: sha}
}

// Every entry is one string at KEYS[1] = "<prefix>:<canonical key>"
// holding "<version>:<value>" (the version in decimal, then the first
// colon, then the value verbatim) with a native expiry. Redis hides and
// deletes expired keys by itself, so no script compares times. Scripts run
// atomically, so each operation is one round trip and sees no
// interleaving. TTLs arrive as integer milliseconds, "0" meaning none, and
// are handed to SET PX as the strings they arrive as.
//
// CheckAndSet needs no script: SET key "1:<value>" NX [PX ttl] is already
// atomic. Get, GetVersioned and Delete are plain GET and DEL.

// prelude holds the helpers the scripts share. Lua numbers are doubles, so
// integers are handled exactly only within ±(2^53-1): int rejects anything
// else, and fmt prints integers without an exponent.
const prelude = `
local function split(s)
  local i = string.find(s, ':', 1, true)
  if not i then return nil end
  return string.sub(s, 1, i - 1), string.sub(s, i + 1)
end
local function int(s)
  if not string.match(s, '^-?%d+$') then return nil end
  local n = tonumber(s)
  if math.abs(n) > 9007199254740991 then return nil end
  return n
end
local function fmt(n) return string.format('%d', n) end
`

// scriptSet: ARGV = value, ttl ms (0 = permanent: a plain SET drops any
// old expiry). A missing entry, or one that is not ours, starts at
// version 1.
var scriptSet = newScript("set", prelude+`
local ver = 1
local cur = redis.call('GET', KEYS[1])
if cur then
  local v = split(cur)
  if v and int(v) then ver = int(v) + 1 end
end
local new = fmt(ver) .. ':' .. ARGV[1]
if ARGV[2] ~= '0' then redis.call('SET', KEYS[1], new, 'PX', ARGV[2]) else redis.call('SET', KEYS[1], new) end
return 1
`)

// scriptIncrement: ARGV = delta, ttl ms (0 = keep the expiry; a new
// counter is then permanent). Fails, writing nothing, when the value is
// not an integer or the result leaves ±(2^53-1). Returns the new value.
var scriptIncrement = newScript("increment", prelude+`
local ver, n = 0, 0
local cur = redis.call('GET', KEYS[1])
if cur then
  local v, s = split(cur)
  if not v then return redis.error_reply('entry is not a versioned value') end
  n = int(s)
  if not n then return redis.error_reply('value is not an integer in range') end
  ver = tonumber(v)
end
n = n + tonumber(ARGV[1])
if math.abs(n) > 9007199254740991 then return redis.error_reply('increment would leave the exact range') end
local new = fmt(ver + 1) .. ':' .. fmt(n)
if ARGV[2] ~= '0' then redis.call('SET', KEYS[1], new, 'PX', ARGV[2]) else redis.call('SET', KEYS[1], new, 'KEEPTTL') end
return fmt(n)
`)

// scriptIncrementWindow: ARGV = window ms. A missing entry starts a fixed
// window "1:1" expiring after it; a live one counts up and keeps its
// expiry. Returns {count, remaining ms}: PTTL, -1 for no expiry, -3 for
// "a new window" (the caller reports the whole window).
var scriptIncrementWindow = newScript("increment-window", prelude+`
local cur = redis.call('GET', KEYS[1])
if not cur then
  redis.call('SET', KEYS[1], '1:1', 'PX', ARGV[1])
  return {1, -3}
end
local v, s = split(cur)
if not v then return redis.error_reply('entry is not a versioned value') end
local n = int(s)
if not n then return redis.error_reply('value is not an integer in range') end
n = n + 1
redis.call('SET', KEYS[1], fmt(tonumber(v) + 1) .. ':' .. fmt(n), 'KEEPTTL')
return {n, redis.call('PTTL', KEYS[1])}
`)

// scriptCompareAndSwap: ARGV = expected version (decimal), value, ttl ms
// (0 = keep the expiry). Versions are compared as the decimal strings the
// scripts wrote. Returns {0} on success, {1} when the key is missing, {2,
// found version} on a mismatch.
var scriptCompareAndSwap = newScript("compare-and-swap", prelude+`
local cur = redis.call('GET', KEYS[1])
if not cur then return {1} end
local v = split(cur)
if not v then return redis.error_reply('entry is not a versioned value') end
if v ~= ARGV[1] then return {2, v} end
local new = fmt(tonumber(v) + 1) .. ':' .. ARGV[2]
if ARGV[3] ~= '0' then redis.call('SET', KEYS[1], new, 'PX', ARGV[3]) else redis.call('SET', KEYS[1], new, 'KEEPTTL') end
return {0}
`)

// Locks are plain strings at "<prefix>|lock:<name>" holding the owner
// token; taking one is SET NX PX (no script).

// scriptUnlock: ARGV = owner. Deletes the lock only if owned; returns 1 if
// it did.
var scriptUnlock = newScript("unlock", `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)

// scriptExtendLock: ARGV = owner, ttl ms (0 = no expiry). Returns 1 if
// owned (and extended), else 0.
var scriptExtendLock = newScript("extend-lock", `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] ~= '0' then redis.call('PEXPIRE', KEYS[1], ARGV[2]) else redis.call('PERSIST', KEYS[1]) end
return 1
`)

var allScripts = []*script{
	scriptSet, scriptIncrement, scriptIncrementWindow,
	scriptCompareAndSwap, scriptUnlock, scriptExtendLock,
}
