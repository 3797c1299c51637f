package main

import "fmt"

// row is one line of a table: a measure, the floor or peer it is compared
// with, and its target.
type row struct {
	// id names the row in reasons; rows with a target need one.
	id             string
	section, label string
	// ours and floor are benchmark names without the -N suffix; floor is
	// empty for a row with a value and no floor. best, when set, replaces
	// floor: the row compares ours with the best (highest) of them.
	ours, floor string
	best        []string
	// unit is the unit of the samples compared: "ns/op", "records/s",
	// "presentations/s", "s/send", or "op/s" (per second, from ns/op).
	unit   string
	target string
	check  func(ours, floor float64) bool
}

// reasons holds, per row id, a short profile line and the reason a target
// is missed; it is shown next to a missed target. Fill it from a profile
// of the run that missed (DEVELOPERS.md, "Benchmarks").
var reasons = map[string]string{
	"peers/postgres/1": "profile: 2 round trips a verification (the member limit's counter, one statement into an UNLOGGED table, " +
		"and the consume UPDATE), one of them waiting for the WAL, as Supabase's four statements commit once; the consume UPDATE " +
		"checks holds, watermarks, claims and the failure cap (an anti-join against guards, a wider row) and the verifier parses " +
		"and checks the token, where a peer's row only consumes; reason: 2x needs the member limit counted inside the consume " +
		"statement (one round trip) and a cheaper consume statement",
	"peers/postgres/16": "profile: as at 1 goroutine; with 16 at once the WAL flushes of the consumes are the bottleneck, " +
		"one a verification as for Supabase; reason: as at 1 goroutine",
	"peers/redis/1": "profile: 2 round trips, as many as Keycloak's GET and SET NX, but both scripts, which take the server about " +
		"150 µs each (see the 16-goroutine row) against a few µs for GET and SET; reason: 2x needs one short script: the member " +
		"limit counted in the consume script, and that script made cheaper",
	"peers/redis/16": "profile: INFO commandstats over 3,000 verifications: 6,009 EVALSHA taking 0.90 s of server time (150 µs a script), " +
		"against 0.7 µs a GET and 2.9 µs a SET for Keycloak; the client spent 22% of one core; reason: the server is single-threaded " +
		"and the two scripts are its bottleneck",
	"consume/postgres/1": "profile: one prepared UPDATE, one round trip, the client at 11% of the wall time; EXPLAIN ANALYZE " +
		"found the planner reading the member's records through the member index (fixed: only the primary key serves now); " +
		"what remains is on the server: the anti-join against guards (holds, watermarks), a wider row and WAL record " +
		"(237 against 140 bytes) and 18 columns returned; reason: the checks the raw UPDATE does not make",
	"consume/postgres/16": "profile: as at 1 goroutine; reason: as at 1 goroutine",
	"consume/redis/1": "profile: SLOWLOG and INFO commandstats: the consume script takes about 90 µs of server time against 8 µs " +
		"for the raw script; the checks (two HMGETs, an HSET) are half of it, the ledger writes (an HSET and three ZADDs) and " +
		"Lua argument handling the rest; reason: consumed entries are written by the script because records expire at their " +
		"retention while the ledger must keep them until Purge; deriving them needs records kept after use and an index by " +
		"time of use, not built",
	"consume/redis/16": "profile: as at 1 goroutine; Redis runs scripts one at a time, so at 16 the script's server time is " +
		"the whole cost; reason: as at 1 goroutine",
	"mintbatch/memstore": "profile: the floor is a map insert with no signing (0.13 µs a record); signing a link alone is " +
		"about 5 µs; reason: the floor does not sign, so no store can come near it",
	"mintbatch/sqlite": "profile: signing takes about 12 µs of CPU a link (golang-jwt keys a new HMAC for every link, " +
		"copies and garbage), on the same two cores as the insert; streamed inserts overlap them, but two cores cannot " +
		"hide it; reason: needs cheaper signing",
	"mintbatch-indexed/postgresstore": "profile: the store's Insert alone is at 0.79x of raw COPY into the same indexes; " +
		"signing (about 12 µs of CPU a link) shares the two cores with the server's COPY; reason: needs cheaper signing",
	"mintbatch/mysqlstore": "profile: as for SQLite: signing on the cores the server inserts with; the Insert alone is " +
		"at 1.1x of raw multi-row INSERTs into the same indexes; reason: needs cheaper signing",
	"mintbatch-indexed/mysqlstore": "profile: as against the plain table; reason: needs cheaper signing",
	"mintbatch/redis": "profile: the insert is the gap (Insert alone at the same rate): an HSET and a PEXPIREAT a record " +
		"plus the index writes and Lua argument handling of the staged insert; reason: 0.5x needs records without a " +
		"per-key expiry, which changes what Purge does, not built",
	"revoke/postgres": "profile: one UPDATE through the batch index, as the raw one; the store's table carries more indexes, " +
		"a fill factor of 80% and wider rows, so each revoked row writes more; reason: the table's shape, which consume needs",
	"watermark/memstore": "profile: two map lookups a consume, 473 against 239 ns: at 1M links the maps no longer fit the " +
		"CPU's caches; the work is the same, there is no scan; reason: memory latency, not the algorithm",
	"send/sqlite/18000":     sendReason,
	"send/postgres/18000":   sendReason,
	"send/sqlite/1000000":   sendReason,
	"send/postgres/1000000": sendReason,
	"mixed/postgres": "profile: a refused presentation adds the statement that reads why the consume UPDATE found nothing, " +
		"and a share of a grouped ledger INSERT (2.84 round trips a presentation mixed, 2.00 clean); each refusal waits on the WAL " +
		"like a login; the ratio swings with the disk: 0.92x in a run an hour earlier on the same machine; reason: a refusal " +
		"costs a statement a login does not",
	"mixed/sqlite": "profile: every refusal is a second write transaction (the ledger entry), serialised with the consumes",
	"mixed/redis":  "profile: a refused presentation runs the consume script and then appends to the ledger: one more round trip",
}

// sendReason is the profile of a whole send (SQLite, 18,000 links).
const sendReason = "profile: 41 µs of CPU a link: the guard 38% (mailscan.Scan, Parser.Inspect), the store's insert 28%, " +
	"minting 17%, one after another on one core; reason: 0.25 s for 18,000 links (15 s for 1,000,000) is 14-15 µs a link, " +
	"less than the guard alone spends on a message: it needs the work spread over both cores and less of it"

// Checks of a ratio, ours / floor.
func atMost(limit float64) func(o, f float64) bool {
	return func(o, f float64) bool { return o/f <= limit }
}
func atLeast(limit float64) func(o, f float64) bool {
	return func(o, f float64) bool { return o/f >= limit }
}

// below checks a value with no floor.
func below(limit float64) func(o, _ float64) bool {
	return func(o, _ float64) bool { return o < limit }
}

// The sections, in the order the report shows them.
const (
	secMint    = "Mint and verify, no store"
	secPeers   = "Peer table: oncelink's whole verification against the peers' consume patterns"
	secConsume = "Consume against the engine's raw single operation"
	secMixed   = "The mixed day: 3 presentations a link, 1 in 5 with another address, against the clean day"
	secInsert  = "Bulk insert of 100k, against the engine's raw bulk insert (throughput)"
	secRevoke  = "Revocation"
	secGuard   = "Send guard"
	secSend    = "Mint, guard and record a whole send"
)

var engines = []string{"memstore", "sqlitestore", "postgresstore", "mysqlstore", "redisstore"}

func rows() []row {
	var rs []row
	add := func(r row) { rs = append(rs, r) }
	add(row{section: secMint, label: "mint a link (sign, secret, hash, bindings)", ours: "token.BenchmarkMint/oncelink", floor: "token.BenchmarkMint/floor",
		unit: "ns/op", id: "mint", target: "≤ 1.25x", check: atMost(1.25)})
	add(row{section: secMint, label: "verify a link (parse, signature, claims, hash)", ours: "token.BenchmarkParse/oncelink", floor: "token.BenchmarkParse/floor",
		unit: "ns/op", id: "parse", target: "≤ 1.25x", check: atMost(1.25)})
	add(row{section: secMint, label: "verify and consume on the memory store, identity included", ours: "verify.BenchmarkConsume/oncelink/memory",
		floor: "verify.BenchmarkConsume/floor", unit: "ns/op"})
	rs = append(rs, peerRows()...)
	for _, st := range engines {
		for _, g := range []string{"1", "16"} {
			r := row{section: secConsume, label: st + ", " + g + " goroutine(s)", unit: "ns/op",
				ours: "store/" + st + ".BenchmarkConsume/oncelink/goroutines=" + g, floor: "store/" + st + ".BenchmarkConsume/raw/goroutines=" + g}
			switch st {
			case "postgresstore":
				r.label += ", against raw UPDATE … RETURNING"
				r.id, r.target, r.check = "consume/postgres/"+g, "≤ 1.1x", atMost(1.1)
			case "redisstore":
				r.label += ", against the raw script"
				r.id, r.target, r.check = "consume/redis/"+g, "≤ 1.1x", atMost(1.1)
			}
			add(r)
		}
	}
	for _, st := range []string{"postgres", "sqlite", "redis"} {
		add(row{section: secMixed, label: st + ": presentations a second, mixed against clean (16 goroutines)", unit: "presentations/s",
			ours: "bench.BenchmarkMixed/" + st + "/mixed", floor: "bench.BenchmarkMixed/" + st + "/clean",
			id: "mixed/" + st, target: "≥ 0.8x", check: atLeast(0.8)})
	}
	rs = append(rs, insertRows()...)
	add(row{section: secRevoke, label: "postgres: revoke a 100k-link batch, against raw UPDATE … WHERE batch", unit: "ns/op",
		ours: "store/postgresstore.BenchmarkRevokeBatch/oncelink", floor: "store/postgresstore.BenchmarkRevokeBatch/raw",
		id: "revoke/postgres", target: "≤ 1.2x", check: atMost(1.2)})
	for _, st := range []string{"memstore", "postgresstore"} {
		add(row{section: secRevoke, label: st + ": watermark at 1M, against at 10k outstanding links", unit: "ns/op",
			ours: "store/" + st + ".BenchmarkWatermark/tokens=1M", floor: "store/" + st + ".BenchmarkWatermark/tokens=10k",
			id: "watermark/" + st, target: "flat (≤ 1.5x)", check: atMost(1.5)})
	}
	add(row{section: secGuard, label: "Guard.Check on a 20 KB HTML message, link twice", ours: "guard.BenchmarkCheck", unit: "ns/op",
		id: "guard", target: "< 25 µs", check: below(25000)})
	for _, n := range []struct{ links, target string }{{"18000", "< 0.25 s"}, {"1000000", "< 15 s"}} {
		limit := map[string]float64{"18000": 0.25, "1000000": 15}[n.links]
		for _, st := range []string{"postgres", "sqlite"} {
			add(row{section: secSend, label: fmt.Sprintf("%s: mint, guard and record %s links", st, n.links), unit: "s/send",
				ours: "bench.BenchmarkSend/" + st + "/links=" + n.links, id: "send/" + st + "/" + n.links, target: n.target, check: below(limit)})
		}
	}
	return rs
}

// insertRows compares MintBatch and Insert of 100k with the engine's raw
// bulk insert.
func insertRows() []row {
	var rs []row
	for _, st := range engines {
		bench := "store/" + st + ".BenchmarkInsert100k/"
		r := row{section: secInsert, label: st + ": MintBatch (sign and record)", ours: bench + "mintbatch", floor: bench + "raw", unit: "records/s"}
		switch st {
		case "sqlitestore":
			r.label += ", against raw INSERTs"
			r.id, r.target, r.check = "mintbatch/sqlite", "≥ 0.8x", atLeast(0.8)
		case "redisstore":
			r.label += ", against raw pipelined writes"
			r.id, r.target, r.check = "mintbatch/redis", "≥ 0.5x", atLeast(0.5)
		case "memstore", "mysqlstore":
			r.id, r.target, r.check = "mintbatch/"+st, "≥ 0.75x", atLeast(0.75)
		}
		rs = append(rs, r, row{section: secInsert, label: st + ": store Insert alone", ours: bench + "oncelink", floor: bench + "raw", unit: "records/s"})
		if raw := map[string]string{"postgresstore": "COPY", "mysqlstore": "multi-row INSERTs"}[st]; raw != "" {
			r := row{section: secInsert, label: st + ": MintBatch, against raw " + raw + " into a table with the store's indexes",
				ours: bench + "mintbatch", floor: bench + "raw-indexed", unit: "records/s", id: "mintbatch-indexed/" + st, target: "≥ 0.75x", check: atLeast(0.75)}
			if st == "postgresstore" {
				r.target, r.check = "≥ 0.8x", atLeast(0.8)
			}
			rs = append(rs, r, row{section: secInsert, label: st + ": store Insert alone, against raw " + raw + " into a table with the store's indexes",
				ours: bench + "oncelink", floor: bench + "raw-indexed", unit: "records/s"})
		}
	}
	return rs
}

// peers names the peers of BenchmarkPeers and what each sends.
var peers = []struct{ engine, name, label string }{
	{"postgres", "kratos", "Ory Kratos, code login: UPDATE … RETURNING the submit count; BEGIN; SELECT; UPDATE; COMMIT"},
	{"postgres", "supabase", "Supabase Auth, magic link: BEGIN; SELECT; UPDATE (unconditional); COMMIT"},
	{"postgres", "readwrite", "read then write: SELECT; UPDATE … WHERE consumed_at IS NULL"},
	{"postgres", "raw", "floor: one UPDATE … RETURNING, no parse"},
	{"redis", "keycloak", "Keycloak, action token: verify the JWT; GET the used mark; SET NX"},
	{"redis", "raw", "floor: one script, no parse"},
}

// peerRows compares oncelink's whole verification with each peer, and
// with the best of the products (not the floors or the read-then-write
// pattern), which carries the target.
func peerRows() []row {
	var rs []row
	for _, engine := range []string{"postgres", "redis"} {
		for _, g := range []string{"1", "16"} {
			ours := "bench.BenchmarkPeers/" + engine + "/oncelink/goroutines=" + g
			var best []string
			for _, p := range peers {
				if p.engine != engine {
					continue
				}
				floor := "bench.BenchmarkPeers/" + engine + "/" + p.name + "/goroutines=" + g
				rs = append(rs, row{section: secPeers, label: fmt.Sprintf("%s, %s goroutine(s): against %s", engine, g, p.label),
					ours: ours, floor: floor, unit: "op/s"})
				if p.name != "raw" && p.name != "readwrite" {
					best = append(best, floor)
				}
			}
			r := row{section: secPeers, label: fmt.Sprintf("%s, %s goroutine(s): against the best peer", engine, g), ours: ours, best: best,
				unit: "op/s", id: "peers/" + engine + "/" + g, target: "≥ 2x", check: atLeast(2)}
			if g == "16" {
				r.target, r.check = "≥ 1x", atLeast(1)
			}
			rs = append(rs, r)
		}
		for _, g := range []string{"1", "16"} {
			rs = append(rs, row{section: secPeers, label: engine + ", " + g + " goroutine(s): against a stateless signed link, no store (golang-jwt parse and verify)",
				ours: "bench.BenchmarkPeers/" + engine + "/oncelink/goroutines=" + g, floor: "bench.BenchmarkPeers/stateless/goroutines=" + g, unit: "op/s"})
		}
	}
	return rs
}
