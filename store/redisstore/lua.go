package redisstore

import (
	"strconv"

	goredis "github.com/redis/go-redis/v9"
)

// The scripts run on Redis's Lua 5.1. Every key a script touches carries the
// store's hash tag, so the keys it computes from record fields (a member's
// watermark and hold, a batch's hold, the ledger of a member or a batch) are
// in the slot of the keys it declares, which Redis Cluster requires. Each
// script starts with luaLayout (keys.go), which names the fields of a
// record and of the control hash, and builds those keys.

// Reply codes of the check scripts, beyond the contract's outcomes 0 to 7.
const (
	codeMismatch = 8 // a mismatched request on a consumable record
	codeDamaged  = 9 // the control key is missing: everything is refused
)

// luaVisible decides whether a record (an HMGET of recordFields) may be
// seen, and returns its sequence number as a string, or nil: a record
// written by a staged Insert is visible once that Insert committed, with
// the number the commit drew.
var luaVisible = luaLayout + `
local function visible(r, xc)
  if not r[F_STATUS] then return nil end
  local x = r[F_STAGED]
  if not x or x == '' then return r[F_SEQ] or '0' end
  local v = redis.call('HGET', xc, x)
  if not v then return nil end
  return string.match(v, '^%d+')
end
`

// luaDecide runs the checks of the contract on a record r with sequence
// number q and the control fields c of its guards (luaLayout's guards():
// the store's mark of existence, the global and member time watermarks,
// the global, batch and member holds, the global and member sequence
// watermarks). decide is
// store.Decide; check adds the secret check before it (the secret hash and
// the token's claims: member, purpose and batch) and the state after it,
// as store.Check does. They return the outcome code; check leaves the
// confirmation to the script that calls it.
var luaDecide = luaVisible + `
local function decide(r, q, c, at)
  local i, n = tonumber(r[F_ISSUED]), tonumber(q)
  if r[F_STATUS] == REVOKED
    or (c[G_TIME] and i < tonumber(c[G_TIME])) or (c[G_MEMBER_TIME] and i < tonumber(c[G_MEMBER_TIME]))
    or (c[G_SEQ] and n < tonumber(c[G_SEQ])) or (c[G_MEMBER_SEQ] and n < tonumber(c[G_MEMBER_SEQ])) then return 3 end
  if r[F_STATUS] == CONSUMED then return 4 end
  if tonumber(r[F_EXPIRES]) <= at then return 5 end
  if c[G_HOLD] or (r[F_BATCH] ~= '' and c[G_BATCH_HOLD]) or c[G_MEMBER_HOLD] then return 6 end
  return 0
end
local function check(r, q, c, secret, state, at, member, purpose, batch)
  if r[F_SECRET] ~= secret or r[F_MEMBER] ~= member or r[F_PURPOSE] ~= purpose or r[F_BATCH] ~= batch then return 2 end
  local d = decide(r, q, c, at)
  if d ~= 0 then return d end
  if r[F_STATE] ~= '' and r[F_STATE] ~= state then return 7 end
  return 0
end
`

// luaCheck fetches a record and its guards: fetch returns 0, the record
// (its sequence field set to its sequence number), its number and the guards;
// or 1 when there is no visible record; or codeDamaged when the store's
// control key is missing, which refuses everything. It only reads the
// control key, and never writes it.
var luaCheck = luaDecide + `
local function fetch(k, ctl, xc)
  local r = redis.call('HMGET', k, unpack(FIELDS))
  local q = visible(r, xc)
  if not q then
    if redis.call('HEXISTS', ctl, CTL_EXISTS) == 0 then return ` + strconv.Itoa(codeDamaged) + ` end
    return 1
  end
  local c = guards(ctl, r[F_MEMBER], r[F_BATCH])
  if not c[G_EXISTS] then return ` + strconv.Itoa(codeDamaged) + ` end
  r[F_SEQ] = q
  return 0, r, q, c
end
`

// consumeScript presents a record. KEYS record, control, committed
// inserts, ledger payloads, global ledger. ARGV tag, secret hash, state, at
// (µs), ledger member of the consumption, head and tail of its payload,
// the token's member, purpose and batch, the confirmation ('0'
// unconfirmed, '1' confirmed, '2' mismatched), the failure cap, the mode
// ('c' consume, 'p' peek), then the field-value pairs to set on success.
//
// A record that is not visible, or a damaged store, changes nothing. Past
// the secret check, a confirmed presentation that is refused, and every
// mismatched one, adds 1 (mismatch) or 0 (confirmation: the same write) to
// the failures, revoking an issued record at the cap; the outcome is the
// one of the record as it was before the count, codeMismatch for a
// mismatch on a consumable record. The script writes only the record and
// the ledger, never the control key. It returns the outcome code followed
// by the record as it was before a consumption, or after a count.
var consumeScript = goredis.NewScript(luaCheck + `
local code, r, q, c = fetch(KEYS[1], KEYS[2], KEYS[3])
if code ~= 0 then return {code} end
code = check(r, q, c, ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[8], ARGV[9], ARGV[10])
local conf = ARGV[11]
if code ~= 2 and (conf == '2' or (conf == '1' and code ~= 0)) then
  local n = 0
  if conf == '2' then n = 1 end
  local f = redis.call('HINCRBY', KEYS[1], FIELDS[F_FAILURES], n)
  local max = tonumber(ARGV[12])
  if n == 1 and max > 0 and f >= max and r[F_STATUS] == ISSUED then
    redis.call('HSET', KEYS[1], FIELDS[F_STATUS], REVOKED, FIELDS[F_REVOKED], ARGV[4])
  end
  r = redis.call('HMGET', KEYS[1], unpack(FIELDS))
  r[F_SEQ] = q
  if code == 0 then code = ` + strconv.Itoa(codeMismatch) + ` end
elseif code == 0 and ARGV[13] == 'c' then
  redis.call('HSET', KEYS[1], unpack(ARGV, 14))
  local lm, m, b, p = ARGV[5], r[F_MEMBER], r[F_BATCH], r[F_PURPOSE]
  redis.call('HSET', KEYS[4], lm,
    ARGV[6] .. #m .. ':' .. m .. #b .. ':' .. b .. #p .. ':' .. p .. ARGV[7])
  redis.call('ZADD', KEYS[5], 0, lm)
  redis.call('ZADD', memberLedger(ARGV[1], m), 0, lm)
  if b ~= '' then redis.call('ZADD', batchLedger(ARGV[1], b), 0, lm) end
end
table.insert(r, 1, code)
return r
`)

// peekScript: the checks of consumeScript, read-only, for an unconfirmed
// request. KEYS record, control, committed inserts; ARGV secret hash,
// state, at, member, purpose, batch.
var peekScript = goredis.NewScript(luaCheck + `
local code, r, q, c = fetch(KEYS[1], KEYS[2], KEYS[3])
if code ~= 0 then return {code} end
table.insert(r, 1, check(r, q, c, ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5], ARGV[6]))
return r
`)

// failScript: KEYS record, committed inserts; ARGV at, max. It returns {1}
// when there is no visible record, else {0, record after the change}.
var failScript = goredis.NewScript(luaVisible + `
local r = redis.call('HMGET', KEYS[1], unpack(FIELDS))
local q = visible(r, KEYS[2])
if not q then return {1} end
local f = redis.call('HINCRBY', KEYS[1], FIELDS[F_FAILURES], 1)
local max = tonumber(ARGV[2])
if max > 0 and f >= max and redis.call('HGET', KEYS[1], FIELDS[F_STATUS]) == ISSUED then
  redis.call('HSET', KEYS[1], FIELDS[F_STATUS], REVOKED, FIELDS[F_REVOKED], ARGV[1])
end
r = redis.call('HMGET', KEYS[1], unpack(FIELDS))
r[F_SEQ] = q
table.insert(r, 1, 0)
return r
`)

// hitScript counts one hit. KEYS the bucket's key, the previous bucket's
// key, the index of buckets, control; ARGV the lifetime of a new bucket's
// key (ms) and the end of its bucket (µs), its score in the index, which
// Purge reads. It returns the two counts, or {replyDamaged} when the
// control key is missing: the counts of a store that lost its control key
// may have been lost with it, so the script refuses rather than count from
// nothing, and it never writes the control key.
var hitScript = goredis.NewScript(luaLayout + `
if redis.call('HEXISTS', KEYS[4], CTL_EXISTS) == 0 then return {` + strconv.Itoa(replyDamaged) + `} end
local n = redis.call('INCR', KEYS[1])
if n == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  redis.call('ZADD', KEYS[3], ARGV[2], KEYS[1])
end
return {n, tonumber(redis.call('GET', KEYS[2]) or '0')}
`)

var scripts = []*goredis.Script{consumeScript, peekScript, failScript, insertScript, beginScript, commitScript,
	cleanupScript, selectScript, tallyScript, watermarkScript, watermarkNowScript, freezeScript, thawScript,
	appendScript, controlScript, hitScript}
