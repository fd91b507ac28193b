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

// Every entry is one hash at KEYS[1] = "<prefix>:<canonical key>" with the
// fields v (value) and ver (version, decimal), and a native expiry
// (PEXPIRE). Redis hides and deletes expired keys by itself, so no script
// has to compare times. Scripts run atomically, so each operation is one
// round trip and sees no interleaving. TTLs are passed as integer
// milliseconds, "0" meaning none, and handed to PEXPIRE as the strings
// they arrive as (no Lua number conversion).

// scriptCheckAndSet: ARGV = value, ttl ms ("0" = none). Returns 1 if it
// created the entry, 0 if a live one existed.
var scriptCheckAndSet = newScript("check-and-set", `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'ver', '1')
if ARGV[2] ~= '0' then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1
`)

// scriptSet: ARGV = value, ttl ms (0 = permanent: PERSIST clears an old
// expiry). A missing entry starts at version 1.
var scriptSet = newScript("set", `
redis.call('HINCRBY', KEYS[1], 'ver', 1)
redis.call('HSET', KEYS[1], 'v', ARGV[1])
if ARGV[2] ~= '0' then redis.call('PEXPIRE', KEYS[1], ARGV[2]) else redis.call('PERSIST', KEYS[1]) end
return 1
`)

// scriptIncrement: ARGV = delta, ttl ms (0 = keep the expiry; a new
// counter is then permanent). HINCRBY does 64-bit integer arithmetic and
// fails before writing anything when v is not an integer. Returns the new
// value as a string (a Lua number would lose precision above 2^53).
var scriptIncrement = newScript("increment", `
redis.call('HINCRBY', KEYS[1], 'v', ARGV[1])
redis.call('HINCRBY', KEYS[1], 'ver', 1)
if ARGV[2] ~= '0' then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return redis.call('HGET', KEYS[1], 'v')
`)

// scriptIncrementWindow: ARGV = window ms. A missing entry starts a fixed
// window {v=1, ver=1} expiring after it; a live one counts up and keeps
// its expiry. Returns {count, remaining ms (PTTL; -1 = no expiry)}.
var scriptIncrementWindow = newScript("increment-window", `
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'v', '1', 'ver', '1')
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  return {1, tonumber(ARGV[1])}
end
local n = redis.call('HINCRBY', KEYS[1], 'v', 1)
redis.call('HINCRBY', KEYS[1], 'ver', 1)
return {n, redis.call('PTTL', KEYS[1])}
`)

// scriptCompareAndSwap: ARGV = expected version (decimal), value, ttl ms
// (0 = keep the expiry). Versions are compared as the decimal strings
// HINCRBY wrote, so no precision is lost. Returns {0} on success, {1} when
// the key is missing, {2, found version} on a mismatch.
var scriptCompareAndSwap = newScript("compare-and-swap", `
local ver = redis.call('HGET', KEYS[1], 'ver')
if not ver then return {1} end
if ver ~= ARGV[1] then return {2, ver} end
redis.call('HSET', KEYS[1], 'v', ARGV[2])
redis.call('HINCRBY', KEYS[1], 'ver', 1)
if ARGV[3] ~= '0' then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
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
	scriptCheckAndSet, scriptSet, scriptIncrement, scriptIncrementWindow,
	scriptCompareAndSwap, scriptUnlock, scriptExtendLock,
}
