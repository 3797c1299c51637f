package redisstore

import (
	"strconv"

	goredis "github.com/redis/go-redis/v9"
)

// Reply codes of the scripts that write.
const (
	replyDamaged   = -1 // the control key is missing
	replyAbandoned = -2 // the staged Insert was given up and cleaned away
)

// insertFields is the number of ARGV entries per record of insertScript.
const insertFields = 11

// insertKeys is the number of keys insertScript declares before the
// records' keys.
const insertKeys = 9

// luaBatches updates the batch summaries: count in KEYS[bn], "first:last"
// issue times in KEYS[bt], from ARGV entries (batch, count, first, last)
// starting at ARGV[o]. It returns the index after them.
const luaBatches = `
local function batches(bn, bt, o)
  local nb = tonumber(ARGV[o]); o = o + 1
  for j = 1, nb do
    local b, n, first, last = ARGV[o], ARGV[o + 1], tonumber(ARGV[o + 2]), tonumber(ARGV[o + 3])
    o = o + 4
    redis.call('HINCRBY', bn, b, n)
    local cur = redis.call('HGET', bt, b)
    if cur then
      local f, l = string.match(cur, '^(%d+):(%d+)$')
      first, last = math.min(first, tonumber(f)), math.max(last, tonumber(l))
    end
    redis.call('HSET', bt, b, string.format('%.0f:%.0f', first, last))
  end
  return o
end
`

// insertScript inserts a chunk of records, all or nothing. KEYS all, exp,
// ledger payloads, global ledger, control, record sequence, batch counts,
// batch spans, pending inserts, then one record key per record. ARGV tag,
// the staged Insert's id ("" for a direct one), the batch summaries (their
// number, then batch, count, first, last; none when staged), then per
// record: id, member, purpose, batch, recipient, secret hash, state,
// issued, expires (µs), expiry of the key (unix ms), ledger member. The
// expiry index member and the issued payload follow all the records, in
// the same order.
//
// A direct Insert draws its sequence number here and is visible at once. A
// staged one writes its records with "x" set, which makes them invisible
// until commitScript runs, and lists their ids for cleanupScript. It
// returns 1, 0 when an id is already held, or a negative reply code.
var insertScript = goredis.NewScript(luaLayout + luaBatches + `
local fixed = ` + strconv.Itoa(insertKeys) + `
local n = #KEYS - fixed
if redis.call('HEXISTS', KEYS[5], CTL_EXISTS) == 0 then return ` + strconv.Itoa(replyDamaged) + ` end
if redis.call('EXISTS', unpack(KEYS, fixed + 1)) > 0 then return 0 end
local tag, x = ARGV[1], ARGV[2]
local mark, value
if x == '' then
  mark, value = FIELDS[F_SEQ], string.format('%.0f', redis.call('INCR', KEYS[6]))
else
  if not redis.call('ZSCORE', KEYS[9], x) then return ` + strconv.Itoa(replyAbandoned) + ` end
  mark, value = FIELDS[F_STAGED], x
end
local base = batches(KEYS[7], KEYS[8], 3) - 1
local tail = base + n * ` + strconv.Itoa(insertFields) + `
local all, exp, ev, led, bidx, bled, ids = {}, {}, {}, {}, {}, {}, {}
for j = 1, n do
  local o = base + (j - 1) * ` + strconv.Itoa(insertFields) + `
  local id, m, b, i, lm = ARGV[o + 1], ARGV[o + 2], ARGV[o + 4], ARGV[o + 8], ARGV[o + 11]
  local k = KEYS[j + fixed]
  redis.call('HSET', k, FIELDS[F_MEMBER], m, FIELDS[F_PURPOSE], ARGV[o + 3], FIELDS[F_BATCH], b,
    FIELDS[F_RECIPIENT], ARGV[o + 5], FIELDS[F_SECRET], ARGV[o + 6], FIELDS[F_STATE], ARGV[o + 7],
    FIELDS[F_ISSUED], i, FIELDS[F_EXPIRES], ARGV[o + 9], FIELDS[F_STATUS], ISSUED, mark, value)
  redis.call('PEXPIREAT', k, ARGV[o + 10])
  redis.call('ZADD', memberIndex(tag, m), i, id)
  redis.call('ZADD', memberLedger(tag, m), 0, lm)
  all[#all + 1] = i; all[#all + 1] = id
  exp[#exp + 1] = ARGV[o + 9]; exp[#exp + 1] = ARGV[tail + j]
  ev[#ev + 1] = lm; ev[#ev + 1] = ARGV[tail + n + j]
  led[#led + 1] = 0; led[#led + 1] = lm
  ids[#ids + 1] = id
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
  redis.call('ZADD', batchIndex(tag, b), unpack(t))
  redis.call('ZADD', batchLedger(tag, b), unpack(bled[b]))
end
if x ~= '' then redis.call('SADD', stagedIDs(tag, x), unpack(ids)) end
return 1
`)

// beginScript opens a staged Insert. KEYS control, pending inserts; ARGV
// its id. The server's clock dates it, for the sweep of abandoned ones.
var beginScript = goredis.NewScript(luaLayout + `
if redis.call('HEXISTS', KEYS[1], CTL_EXISTS) == 0 then return ` + strconv.Itoa(replyDamaged) + ` end
local t = redis.call('TIME')
redis.call('ZADD', KEYS[2], 'NX', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000), ARGV[1])
return 1
`)

// commitScript makes a staged Insert visible, in one step: it draws the
// Insert's sequence number and records it as committed. KEYS control,
// record sequence, committed inserts, pending inserts, batch counts, batch
// spans, the Insert's id list. ARGV its id, the latest expiry of its
// records (µs), then its batch summaries. It returns 1 or a negative reply
// code.
var commitScript = goredis.NewScript(luaLayout + luaBatches + `
if redis.call('HEXISTS', KEYS[1], CTL_EXISTS) == 0 then return ` + strconv.Itoa(replyDamaged) + ` end
if not redis.call('ZSCORE', KEYS[4], ARGV[1]) then return ` + strconv.Itoa(replyAbandoned) + ` end
local q = string.format('%.0f', redis.call('INCR', KEYS[2]))
redis.call('HSET', KEYS[3], ARGV[1], q .. ':' .. ARGV[2])
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('DEL', KEYS[7])
batches(KEYS[5], KEYS[6], 3)
return 1
`)

// cleanupFields is the number of ARGV entries per record of cleanupScript.
const cleanupFields = 5

// cleanupScript removes records of a staged Insert that will never commit:
// only records whose "x" is that Insert's, so that it never touches a
// record of another call. KEYS all, exp, ledger payloads, global ledger,
// then the record keys. ARGV tag, the Insert's id, then per record: id,
// member, batch, ledger member, expiry member.
var cleanupScript = goredis.NewScript(luaLayout + `
local tag, x = ARGV[1], ARGV[2]
local n = 0
for j = 1, #KEYS - 4 do
  local o = 2 + (j - 1) * ` + strconv.Itoa(cleanupFields) + `
  local id, m, b, lm, em = ARGV[o + 1], ARGV[o + 2], ARGV[o + 3], ARGV[o + 4], ARGV[o + 5]
  local k = KEYS[j + 4]
  if redis.call('HGET', k, FIELDS[F_STAGED]) == x then
    redis.call('DEL', k)
    redis.call('ZREM', KEYS[1], id)
    redis.call('ZREM', KEYS[2], em)
    redis.call('HDEL', KEYS[3], lm)
    redis.call('ZREM', KEYS[4], lm)
    redis.call('ZREM', memberIndex(tag, m), id)
    redis.call('ZREM', memberLedger(tag, m), lm)
    if b ~= '' then
      redis.call('ZREM', batchIndex(tag, b), id)
      redis.call('ZREM', batchLedger(tag, b), lm)
    end
    n = n + 1
  end
end
return n
`)

// selectScript counts (mode "c") or revokes (mode "r") the visible records
// among the record keys that match a filter. KEYS committed inserts, then
// the record keys. ARGV mode, at (µs), purpose, issued from, issued before
// (µs or ""), consumed only ("1" or "0"), the number of members then the
// members, the number of batches then the batches (0 when the candidates
// already satisfy that part of the filter). It returns the count and the
// positions (among the record keys) of the keys that no longer exist.
var selectScript = goredis.NewScript(luaVisible + `
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
for j = 2, #KEYS do
  local k = KEYS[j]
  local r = redis.call('HMGET', k, unpack(FIELDS))
  if not r[F_STATUS] then
    missing[#missing + 1] = j - 1
  elseif visible(r, KEYS[1]) and (mode ~= 'r' or r[F_STATUS] ~= REVOKED)
    and (not members or members[r[F_MEMBER]]) and (not batches or batches[r[F_BATCH]])
    and (purpose == '' or r[F_PURPOSE] == purpose)
    and (not from or tonumber(r[F_ISSUED]) >= from) and (not before or tonumber(r[F_ISSUED]) < before)
    and (consumed ~= '1' or r[F_CONSUMED]) then
    if mode == 'r' then redis.call('HSET', k, FIELDS[F_STATUS], REVOKED, FIELDS[F_REVOKED], at) end
    n = n + 1
  end
end
return {n, missing}
`)

// tallyScript counts the visible records among the record keys that match
// a filter by what Consume would decide for each at a time (luaDecide).
// KEYS control, committed inserts, then the record keys. ARGV at (µs) then
// the filter as in selectScript, from its purpose on. It returns the counts
// of outcomes 0 (issued), 6 (frozen), 4 (used), 3 (revoked), 5 (expired),
// then the positions of the keys that no longer exist, or {-1} when the
// control key is missing.
var tallyScript = goredis.NewScript(luaDecide + `
local at, purpose, consumed = tonumber(ARGV[1]), ARGV[2], ARGV[5]
local from = ARGV[3] ~= '' and tonumber(ARGV[3])
local before = ARGV[4] ~= '' and tonumber(ARGV[4])
local o = 6
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
if redis.call('HEXISTS', KEYS[1], CTL_EXISTS) == 0 then return {-1} end
local counts, missing = {[0] = 0, [3] = 0, [4] = 0, [5] = 0, [6] = 0}, {}
for j = 3, #KEYS do
  local r = redis.call('HMGET', KEYS[j], unpack(FIELDS))
  local q = visible(r, KEYS[2])
  if not r[F_STATUS] then
    missing[#missing + 1] = j - 2
  elseif q and (not members or members[r[F_MEMBER]]) and (not batches or batches[r[F_BATCH]])
    and (purpose == '' or r[F_PURPOSE] == purpose)
    and (not from or tonumber(r[F_ISSUED]) >= from) and (not before or tonumber(r[F_ISSUED]) < before)
    and (consumed ~= '1' or r[F_CONSUMED]) then
    local d = decide(r, q, guards(KEYS[1], r[F_MEMBER], r[F_BATCH]), at)
    counts[d] = counts[d] + 1
  end
end
return {counts[0], counts[6], counts[4], counts[3], counts[5], missing}
`)

// watermarkScript: KEYS control; ARGV field, time (µs). The mark only moves
// forward. It returns 0, or a negative reply code.
var watermarkScript = goredis.NewScript(luaLayout + `
if redis.call('HEXISTS', KEYS[1], CTL_EXISTS) == 0 then return ` + strconv.Itoa(replyDamaged) + ` end
local c = redis.call('HGET', KEYS[1], ARGV[1])
if not c or tonumber(ARGV[2]) > tonumber(c) then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
return 0
`)

// watermarkNowScript draws the next number of the record sequence and
// raises a sequence watermark to it. KEYS control, record sequence; ARGV
// the sequence field, the time field of the same member. It returns the
// member's sequence mark and time mark as they stand, or a negative reply
// code.
var watermarkNowScript = goredis.NewScript(luaLayout + `
if redis.call('HEXISTS', KEYS[1], CTL_EXISTS) == 0 then return ` + strconv.Itoa(replyDamaged) + ` end
local n = redis.call('INCR', KEYS[2])
local c = redis.call('HGET', KEYS[1], ARGV[1])
if not c or n > tonumber(c) then redis.call('HSET', KEYS[1], ARGV[1], string.format('%.0f', n)) end
return {redis.call('HGET', KEYS[1], ARGV[1]), redis.call('HGET', KEYS[1], ARGV[2]) or ''}
`)

// freezeScript places a hold unless one stands. KEYS control; ARGV field,
// value. It returns 1, or a negative reply code.
var freezeScript = goredis.NewScript(luaLayout + `
if redis.call('HEXISTS', KEYS[1], CTL_EXISTS) == 0 then return ` + strconv.Itoa(replyDamaged) + ` end
redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])
return 1
`)

// thawScript lifts a hold. KEYS control; ARGV field. It returns 1 when there
// was a hold, 0 when there was none, or a negative reply code.
var thawScript = goredis.NewScript(luaLayout + `
if redis.call('HEXISTS', KEYS[1], CTL_EXISTS) == 0 then return ` + strconv.Itoa(replyDamaged) + ` end
return redis.call('HDEL', KEYS[1], ARGV[1])
`)

// appendScript: KEYS ledger payloads, global ledger, sequence. ARGV tag,
// then per event: time key, payload, batch, member. Each event gets the next
// number of the sequence.
var appendScript = goredis.NewScript(luaLayout + `
local n = (#ARGV - 1) / 4
local last = redis.call('INCRBY', KEYS[3], n)
for j = 1, n do
  local o = 2 + (j - 1) * 4
  local lm = ARGV[o] .. ENTRY_APPENDED .. string.format('%016x', last - n + j)
  redis.call('HSET', KEYS[1], lm, ARGV[o + 1])
  redis.call('ZADD', KEYS[2], 0, lm)
  if ARGV[o + 2] ~= '' then redis.call('ZADD', batchLedger(ARGV[1], ARGV[o + 2]), 0, lm) end
  if ARGV[o + 3] ~= '' then redis.call('ZADD', memberLedger(ARGV[1], ARGV[o + 3]), 0, lm) end
end
return n
`)

// Replies of controlScript.
const (
	controlDamaged  = 0 // data without a control key
	controlOK       = 1 // the control key is in place
	controlUpgraded = 2 // a control key of an earlier version got its mark
	controlCreated  = 3 // a new store
	controlNone     = 4 // no store, and none was to be created
	controlRepaired = 5 // a new control key, with a global sequence watermark
)

// controlScript finds, creates or repairs the store's control key. KEYS
// control, record sequence, then the keys whose presence shows that the
// store holds data. ARGV mode: "open" (an existing store only), "create"
// (create a new one when there is no data), "repair" (also recreate a
// missing control key where there is data, with a global sequence
// watermark over every record, since the holds and watermarks it held are
// lost).
var controlScript = goredis.NewScript(luaLayout + `
if redis.call('HEXISTS', KEYS[1], CTL_EXISTS) == 1 then return ` + strconv.Itoa(controlOK) + ` end
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[1], CTL_EXISTS, '1')
  return ` + strconv.Itoa(controlUpgraded) + `
end
local data = redis.call('EXISTS', unpack(KEYS, 2)) > 0
if not data then
  if ARGV[1] == 'open' then return ` + strconv.Itoa(controlNone) + ` end
  redis.call('HSET', KEYS[1], CTL_EXISTS, '1')
  return ` + strconv.Itoa(controlCreated) + `
end
if ARGV[1] ~= 'repair' then return ` + strconv.Itoa(controlDamaged) + ` end
local n = redis.call('INCR', KEYS[2])
redis.call('HSET', KEYS[1], CTL_EXISTS, '1', '` + ctlGlobalSeq + `', string.format('%.0f', n))
return ` + strconv.Itoa(controlRepaired) + `
`)
