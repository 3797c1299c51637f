package redis

import (
	goredis "github.com/redis/go-redis/v9"
)

// The scripts run on Redis's Lua 5.1. Every key a script touches carries the
// store's hash tag, so the keys it computes from record fields (a member's
// watermark and hold, a batch's hold, the ledger of a member or a batch) are
// in the slot of the keys it declares, which Redis Cluster requires.
//
// A record hash has the fields of recordFields, in that order in every reply.

// recordFields are the fields of a record hash, in the order of HMGET replies.
// "q" is the record's sequence number when its Insert wrote it directly; "x"
// names the staged Insert it belongs to otherwise (see insert.go).
var recordFields = []string{"m", "p", "b", "r", "h", "s", "i", "e", "st", "f", "c", "v", "ci", "ca", "cu", "cs", "q", "x"}

const luaRecordFields = `'m','p','b','r','h','s','i','e','st','f','c','v','ci','ca','cu','cs','q','x'`

// Reply codes of the check scripts, beyond the contract's outcomes 0 to 7.
const codeDamaged = 8

// luaVisible decides whether a record (an HMGET of recordFields) may be
// seen, and returns its sequence number as a string, or nil: a record
// written by a staged Insert is visible once that Insert committed, with
// the number the commit drew.
const luaVisible = `
local function visible(r, xc)
  if not r[9] then return nil end
  local x = r[18]
  if not x or x == '' then return r[17] or '0' end
  local v = redis.call('HGET', xc, x)
  if not v then return nil end
  return string.match(v, '^%d+')
end
`

// luaDecide runs the checks of the contract on a record r with sequence
// number q and the control fields c of its guards: "v" (the store's mark
// of existence), the global and member time watermarks, the global, batch
// and member holds, the global and member sequence watermarks. decide is
// store.Decide; check adds the secret before and the state after it, as
// store.Check does. They return the outcome code.
const luaDecide = luaVisible + `
local function guards(ctl, m, b)
  return redis.call('HMGET', ctl, 'v', 'mg', 'mm:' .. m, 'hg', 'hb:' .. b, 'hm:' .. m, 'sg', 'sm:' .. m)
end
local function decide(r, q, c, at)
  local i, n = tonumber(r[7]), tonumber(q)
  if r[9] == '3' or (c[2] and i < tonumber(c[2])) or (c[3] and i < tonumber(c[3]))
    or (c[7] and n < tonumber(c[7])) or (c[8] and n < tonumber(c[8])) then return 3 end
  if r[9] == '2' then return 4 end
  if tonumber(r[8]) <= at then return 5 end
  if c[4] or (r[3] ~= '' and c[5]) or c[6] then return 6 end
  return 0
end
local function check(r, q, c, secret, state, at)
  if r[5] ~= secret then return 2 end
  local d = decide(r, q, c, at)
  if d ~= 0 then return d end
  if r[6] ~= '' and r[6] ~= state then return 7 end
  return 0
end
`

// luaCheck fetches a record and its guards: fetch returns 0, the record
// (its "q" field set to its sequence number), its number and the guards;
// or 1 when there is no visible record; or 8 when the store's control key
// is missing, which refuses everything.
const luaCheck = luaDecide + `
local function fetch(k, ctl, xc)
  local r = redis.call('HMGET', k, ` + luaRecordFields + `)
  local q = visible(r, xc)
  if not q then
    if redis.call('HEXISTS', ctl, 'v') == 0 then return 8 end
    return 1
  end
  local c = guards(ctl, r[1], r[3])
  if not c[1] then return 8 end
  r[17] = q
  return 0, r, q, c
end
`

// consumeScript: KEYS record, control, committed inserts, ledger payloads,
// global ledger. ARGV tag, secret hash, state, at (µs), ledger member of
// the consumption, head and tail of its payload, then the field-value pairs
// to set on success. It returns the outcome code followed by the record as
// it was before.
var consumeScript = goredis.NewScript(luaCheck + `
local code, r, q, c = fetch(KEYS[1], KEYS[2], KEYS[3])
if code ~= 0 then return {code} end
code = check(r, q, c, ARGV[2], ARGV[3], tonumber(ARGV[4]))
if code == 0 then
  redis.call('HSET', KEYS[1], unpack(ARGV, 8))
  local lm, m, b, p = ARGV[5], r[1], r[3], r[2]
  redis.call('HSET', KEYS[4], lm,
    ARGV[6] .. #m .. ':' .. m .. #b .. ':' .. b .. #p .. ':' .. p .. ARGV[7])
  redis.call('ZADD', KEYS[5], 0, lm)
  redis.call('ZADD', ARGV[1] .. ':l:m:' .. m, 0, lm)
  if b ~= '' then redis.call('ZADD', ARGV[1] .. ':l:b:' .. b, 0, lm) end
end
table.insert(r, 1, code)
return r
`)

// peekScript: the checks of consumeScript, read-only. KEYS record, control,
// committed inserts; ARGV secret hash, state, at.
var peekScript = goredis.NewScript(luaCheck + `
local code, r, q, c = fetch(KEYS[1], KEYS[2], KEYS[3])
if code ~= 0 then return {code} end
table.insert(r, 1, check(r, q, c, ARGV[1], ARGV[2], tonumber(ARGV[3])))
return r
`)

// failScript: KEYS record, committed inserts; ARGV at, max. It returns {1}
// when there is no visible record, else {0, record after the change}.
var failScript = goredis.NewScript(luaVisible + `
local r = redis.call('HMGET', KEYS[1], ` + luaRecordFields + `)
local q = visible(r, KEYS[2])
if not q then return {1} end
local f = redis.call('HINCRBY', KEYS[1], 'f', 1)
local max = tonumber(ARGV[2])
if max > 0 and f >= max and redis.call('HGET', KEYS[1], 'st') == '1' then
  redis.call('HSET', KEYS[1], 'st', '3', 'v', ARGV[1])
end
r = redis.call('HMGET', KEYS[1], ` + luaRecordFields + `)
r[17] = q
table.insert(r, 1, 0)
return r
`)

var scripts = []*goredis.Script{consumeScript, peekScript, failScript, insertScript, beginScript, commitScript,
	cleanupScript, selectScript, tallyScript, watermarkScript, watermarkNowScript, freezeScript, thawScript,
	appendScript, controlScript}
