package redis

import (
	"strconv"

	goredis "github.com/redis/go-redis/v9"
)

// The scripts run on Redis's Lua 5.1. Every key a script touches carries the
// store's hash tag, so the keys it computes from record fields (a member's
// watermark and hold, a batch's hold, the ledger of a member or a batch) are
// in the slot of the keys it declares, which Redis Cluster requires.
//
// A record hash has the fields of recordFields, in that order in every reply.

// recordFields are the fields of a record hash, in the order of HMGET replies.
var recordFields = []string{"m", "p", "b", "r", "h", "s", "i", "e", "st", "f", "c", "v", "ci", "ca", "cu", "cs"}

const luaRecordFields = `'m','p','b','r','h','s','i','e','st','f','c','v','ci','ca','cu','cs'`

// luaCheck runs the checks of the contract, in its order, on a record r (the
// HMGET of recordFields) and the control fields c (global mark, member mark,
// global hold, batch hold, member hold). The secret check compares the
// secret hash and the token's claims (member, purpose, batch) with the
// record. It returns the outcome code.
const luaCheck = `
local function check(r, c, secret, state, at, member, purpose, batch)
  if r[5] ~= secret or r[1] ~= member or r[2] ~= purpose or r[3] ~= batch then return 2 end
  local i = tonumber(r[7])
  if r[9] == '3' or (c[1] and i < tonumber(c[1])) or (c[2] and i < tonumber(c[2])) then return 3 end
  if r[9] == '2' then return 4 end
  if tonumber(r[8]) <= at then return 5 end
  if c[3] or (r[3] ~= '' and c[4]) or c[5] then return 6 end
  if r[6] ~= '' and r[6] ~= state then return 7 end
  return 0
end
local function fetch(k, ctl)
  local r = redis.call('HMGET', k, ` + luaRecordFields + `)
  if not r[9] then return nil end
  local c = redis.call('HMGET', ctl, 'mg', 'mm:' .. r[1], 'hg', 'hb:' .. r[3], 'hm:' .. r[1])
  return r, c
end
`

// consumeScript presents a record: KEYS record, control, ledger payloads,
// global ledger. ARGV tag, secret hash, state, at (µs), ledger member of
// the consumption, head and tail of its payload, the token's member,
// purpose and batch, the confirmation ('0' unconfirmed, '1' confirmed, '2'
// mismatched), the failure cap, the mode ('c' consume, 'p' peek), then the
// field-value pairs to set on success. A confirmed or mismatched
// presentation that is refused, and every mismatched one, adds 1 (mismatch)
// or 0 (confirmation: the same write) to the failures, revoking an issued
// record at the cap. It returns the outcome code (8: mismatch on a
// consumable record) followed by the record as it was before a
// consumption, or after a count.
var consumeScript = goredis.NewScript(luaCheck + `
local r, c = fetch(KEYS[1], KEYS[2])
if not r then return {1} end
local code = check(r, c, ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[8], ARGV[9], ARGV[10])
local conf = ARGV[11]
if code ~= 2 and (conf == '2' or (conf == '1' and code ~= 0)) then
  local n = 0
  if conf == '2' then n = 1 end
  local f = redis.call('HINCRBY', KEYS[1], 'f', n)
  local max = tonumber(ARGV[12])
  if n == 1 and max > 0 and f >= max and r[9] == '1' then
    redis.call('HSET', KEYS[1], 'st', '3', 'v', ARGV[4])
  end
  r = redis.call('HMGET', KEYS[1], ` + luaRecordFields + `)
  if code == 0 then code = 8 end
elseif code == 0 and ARGV[13] == 'c' then
  redis.call('HSET', KEYS[1], unpack(ARGV, 14))
  local lm, m, b, p = ARGV[5], r[1], r[3], r[2]
  redis.call('HSET', KEYS[3], lm,
    ARGV[6] .. #m .. ':' .. m .. #b .. ':' .. b .. #p .. ':' .. p .. ARGV[7])
  redis.call('ZADD', KEYS[4], 0, lm)
  redis.call('ZADD', ARGV[1] .. ':l:m:' .. m, 0, lm)
  if b ~= '' then redis.call('ZADD', ARGV[1] .. ':l:b:' .. b, 0, lm) end
end
table.insert(r, 1, code)
return r
`)

// peekScript: the checks of consumeScript, read-only, for an unconfirmed
// request. KEYS record, control; ARGV secret hash, state, at, member,
// purpose, batch.
var peekScript = goredis.NewScript(luaCheck + `
local r, c = fetch(KEYS[1], KEYS[2])
if not r then return {1} end
table.insert(r, 1, check(r, c, ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5], ARGV[6]))
return r
`)

// failScript: KEYS record; ARGV at, max. It returns {1} when there is no
// record, else {0, record after the change}.
var failScript = goredis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return {1} end
local f = redis.call('HINCRBY', KEYS[1], 'f', 1)
local max = tonumber(ARGV[2])
if max > 0 and f >= max and redis.call('HGET', KEYS[1], 'st') == '1' then
  redis.call('HSET', KEYS[1], 'st', '3', 'v', ARGV[1])
end
local r = redis.call('HMGET', KEYS[1], ` + luaRecordFields + `)
table.insert(r, 1, 0)
return r
`)

// hitScript counts one hit: KEYS the bucket's key, the previous bucket's
// key, the index of buckets; ARGV the lifetime of a new bucket's key (ms)
// and the end of its bucket (µs), its score in the index, which Purge
// reads. It returns the two counts.
var hitScript = goredis.NewScript(`
local n = redis.call('INCR', KEYS[1])
if n == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  redis.call('ZADD', KEYS[3], ARGV[2], KEYS[1])
end
return {n, tonumber(redis.call('GET', KEYS[2]) or '0')}
`)

// insertFields is the number of ARGV entries per record of insertScript.
const insertFields = 11

// insertScript inserts a chunk of records, all or nothing. KEYS all, exp,
// ledger payloads, global ledger, then one record key per record. ARGV tag,
// then per record: id, member, purpose, batch, recipient, secret hash,
// state, issued, expires (µs), expiry of the key (unix ms), ledger member.
// The expiry index member and the issued payload follow all the records, in
// the same order. It returns 0 when an id is already held, else 1.
var insertScript = goredis.NewScript(`
local n = #KEYS - 4
if redis.call('EXISTS', unpack(KEYS, 5)) > 0 then return 0 end
local tag = ARGV[1]
local tail = 1 + n * ` + strconv.Itoa(insertFields) + `
local all, exp, ev, led, bidx, bled = {}, {}, {}, {}, {}, {}
for j = 1, n do
  local o = 1 + (j - 1) * ` + strconv.Itoa(insertFields) + `
  local id, m, b, i, lm = ARGV[o + 1], ARGV[o + 2], ARGV[o + 4], ARGV[o + 8], ARGV[o + 11]
  local k = KEYS[j + 4]
  redis.call('HSET', k, 'm', m, 'p', ARGV[o + 3], 'b', b, 'r', ARGV[o + 5], 'h', ARGV[o + 6],
    's', ARGV[o + 7], 'i', i, 'e', ARGV[o + 9], 'st', '1')
  redis.call('PEXPIREAT', k, ARGV[o + 10])
  redis.call('ZADD', tag .. ':m:' .. m, i, id)
  redis.call('ZADD', tag .. ':l:m:' .. m, 0, lm)
  all[#all + 1] = i; all[#all + 1] = id
  exp[#exp + 1] = ARGV[o + 9]; exp[#exp + 1] = ARGV[tail + j]
  ev[#ev + 1] = lm; ev[#ev + 1] = ARGV[tail + n + j]
  led[#led + 1] = 0; led[#led + 1] = lm
  if b ~= '' then
    local t = bidx[b]
    if not t then t = {}; bidx[b] = t; bled[b] = {} end
    t[#t + 1] = i; t[#t + 1] = id
    local u = bled[b]
    u[#u + 1] = 0; u[#u + 1] = lm
  end
end
redis.call('ZADD', KEYS[1], unpack(all))
redis.call('ZADD', KEYS[2], unpack(exp))
redis.call('HSET', KEYS[3], unpack(ev))
redis.call('ZADD', KEYS[4], unpack(led))
for b, t in pairs(bidx) do
  redis.call('ZADD', tag .. ':b:' .. b, unpack(t))
  redis.call('ZADD', tag .. ':l:b:' .. b, unpack(bled[b]))
end
return 1
`)

// undoFields is the number of ARGV entries per record of undoScript.
const undoFields = 6

// undoScript removes records an Insert wrote before one of its later chunks
// failed. It removes a record only if it still holds the secret hash that
// Insert wrote, so that it never removes a record of another call. KEYS all,
// exp, ledger payloads, global ledger, then the record keys. ARGV tag, then
// per record: id, secret hash, member, batch, ledger member, expiry member.
var undoScript = goredis.NewScript(`
local tag = ARGV[1]
local n = 0
for j = 1, #KEYS - 4 do
  local o = 1 + (j - 1) * ` + strconv.Itoa(undoFields) + `
  local id, h, m, b, lm, em = ARGV[o + 1], ARGV[o + 2], ARGV[o + 3], ARGV[o + 4], ARGV[o + 5], ARGV[o + 6]
  local k = KEYS[j + 4]
  if redis.call('HGET', k, 'h') == h then
    redis.call('DEL', k)
    redis.call('ZREM', KEYS[1], id)
    redis.call('ZREM', KEYS[2], em)
    redis.call('HDEL', KEYS[3], lm)
    redis.call('ZREM', KEYS[4], lm)
    redis.call('ZREM', tag .. ':m:' .. m, id)
    redis.call('ZREM', tag .. ':l:m:' .. m, lm)
    if b ~= '' then
      redis.call('ZREM', tag .. ':b:' .. b, id)
      redis.call('ZREM', tag .. ':l:b:' .. b, lm)
    end
    n = n + 1
  end
end
return n
`)

// selectScript counts (mode "c") or revokes (mode "r") the records among
// KEYS that match a filter. ARGV mode, at (µs), purpose, issued from,
// issued before (µs or ""), consumed only ("1" or "0"), the number of
// members then the members, the number of batches then the batches (0 when
// the candidates already satisfy that part of the filter). It returns the
// count and the positions of the keys that no longer exist.
var selectScript = goredis.NewScript(`
local mode, at, purpose, consumed = ARGV[1], ARGV[2], ARGV[3], ARGV[6]
local from = ARGV[4] ~= '' and tonumber(ARGV[4])
local before = ARGV[5] ~= '' and tonumber(ARGV[5])
local o = 7
local function set()
  local c = tonumber(ARGV[o]); o = o + 1
  if c == 0 then return nil end
  local t = {}
  for j = o, o + c - 1 do t[ARGV[j]] = true end
  o = o + c
  return t
end
local members = set()
local batches = set()
local n, missing = 0, {}
for j, k in ipairs(KEYS) do
  local r = redis.call('HMGET', k, 'st', 'm', 'b', 'p', 'i', 'c')
  if not r[1] then
    missing[#missing + 1] = j
  elseif (mode ~= 'r' or r[1] ~= '3')
    and (not members or members[r[2]]) and (not batches or batches[r[3]])
    and (purpose == '' or r[4] == purpose)
    and (not from or tonumber(r[5]) >= from) and (not before or tonumber(r[5]) < before)
    and (consumed ~= '1' or r[6]) then
    if mode == 'r' then redis.call('HSET', k, 'st', '3', 'v', at) end
    n = n + 1
  end
end
return {n, missing}
`)

// watermarkScript: KEYS control; ARGV field, time (µs). The mark only moves
// forward.
var watermarkScript = goredis.NewScript(`
local c = redis.call('HGET', KEYS[1], ARGV[1])
if not c or tonumber(ARGV[2]) > tonumber(c) then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
return 0
`)

// appendScript: KEYS ledger payloads, global ledger, sequence. ARGV tag,
// then per event: time key, payload, batch, member. Each event gets the next
// number of the sequence.
var appendScript = goredis.NewScript(`
local n = (#ARGV - 1) / 4
local last = redis.call('INCRBY', KEYS[3], n)
for j = 1, n do
  local o = 2 + (j - 1) * 4
  local lm = ARGV[o] .. '3' .. string.format('%016x', last - n + j)
  redis.call('HSET', KEYS[1], lm, ARGV[o + 1])
  redis.call('ZADD', KEYS[2], 0, lm)
  if ARGV[o + 2] ~= '' then redis.call('ZADD', ARGV[1] .. ':l:b:' .. ARGV[o + 2], 0, lm) end
  if ARGV[o + 3] ~= '' then redis.call('ZADD', ARGV[1] .. ':l:m:' .. ARGV[o + 3], 0, lm) end
end
return n
`)

var scripts = []*goredis.Script{consumeScript, peekScript, failScript, insertScript, undoScript, selectScript, watermarkScript, appendScript, hitScript}
