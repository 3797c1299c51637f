package postgresstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/oncelink/oncelink/internal/loadtest"
	"github.com/oncelink/oncelink/internal/teststores"
	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/store/storetest"
)

// Every benchmark compares the store with the raw single operation on the
// same server, in the same run: a minimal table with the same column
// shapes, a primary key, and only the index the raw operation needs.

// benchStore returns a store in a fresh schema, migrated, dropped when b
// ends. Call it from the parent benchmark, whose cleanup runs once, after
// every sub-benchmark.
func benchStore(b *testing.B, pool *pgxpool.Pool) (store.Store, string) {
	b.Helper()
	return newSchemaStore(b, pool, true)
}

// rawTable creates a minimal table of the same column shapes as the
// store's, with an index on batch if batchIndex.
func rawTable(b *testing.B, pool *pgxpool.Pool, schema, name string, batchIndex bool) pgx.Identifier {
	b.Helper()
	id := pgx.Identifier{schema, name}
	sql := "CREATE TABLE " + id.Sanitize() + ` (
	id uuid PRIMARY KEY, member text NOT NULL, purpose text NOT NULL, batch text NOT NULL, recipient text NOT NULL,
	secret_hash bytea NOT NULL, state bytea, issued_at timestamptz NOT NULL, expires_at timestamptz NOT NULL,
	consumed_at timestamptz, revoked_at timestamptz)`
	if _, err := pool.Exec(context.Background(), sql); err != nil {
		b.Fatal(err)
	}
	if batchIndex {
		if _, err := pool.Exec(context.Background(), "CREATE INDEX ON "+id.Sanitize()+" (batch)"); err != nil {
			b.Fatal(err)
		}
	}
	return id
}

// rawCopy is plain pgx COPY of records into a raw table, in one transaction.
func rawCopy(b *testing.B, pool *pgxpool.Pool, table pgx.Identifier, recs []store.Record) {
	b.Helper()
	ctx := context.Background()
	tx, err := pool.Begin(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback(ctx)
	rows := make([][]any, len(recs))
	for i := range recs {
		r := &recs[i]
		rows[i] = []any{r.ID, r.Member, r.Purpose, r.Batch, r.Recipient, r.SecretHash[:], nil, r.IssuedAt, r.ExpiresAt}
	}
	cols := []string{"id", "member", "purpose", "batch", "recipient", "secret_hash", "state", "issued_at", "expires_at"}
	if _, err := tx.CopyFrom(ctx, table, cols, pgx.CopyFromRows(rows)); err != nil {
		b.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		b.Fatal(err)
	}
}

// settle writes out what a bulk insert left dirty, so that the timed calls
// do not pay for it: a checkpoint where the role may run one, else nothing.
func settle(b *testing.B, pool *pgxpool.Pool) {
	b.Helper()
	if _, err := pool.Exec(context.Background(), "CHECKPOINT"); err != nil {
		b.Logf("no checkpoint before timing: %v", err)
	}
}

func analyze(b *testing.B, pool *pgxpool.Pool, tables ...pgx.Identifier) {
	b.Helper()
	for _, t := range tables {
		if _, err := pool.Exec(context.Background(), "ANALYZE "+t.Sanitize()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkConsume consumes distinct valid tokens, with every check, against
// a raw single-statement UPDATE. Both tables hold the same 100k background
// rows plus the tokens of each run.
func BenchmarkConsume(b *testing.B) {
	ctx := context.Background()
	pool := newPool(b, "oncelink-bench", 20)
	s, schema := benchStore(b, pool)
	raw := rawTable(b, pool, schema, "raw_consume", false)
	background, _ := storetest.Tokens(b, 100000, "background")
	if err := s.Insert(ctx, background); err != nil {
		b.Fatal(err)
	}
	rawCopy(b, pool, raw, background)
	analyze(b, pool, pgx.Identifier{schema, "tokens"}, raw)
	sql := "UPDATE " + raw.Sanitize() + " SET consumed_at = $2 WHERE id = $1 AND consumed_at IS NULL RETURNING id"
	for _, g := range []int{1, 16} {
		b.Run(fmt.Sprintf("oncelink/goroutines=%d", g), func(b *testing.B) {
			storetest.BenchConsume(b, s, g)
		})
		b.Run(fmt.Sprintf("raw/goroutines=%d", g), func(b *testing.B) {
			recs, reqs := storetest.Tokens(b, b.N, fmt.Sprintf("raw-%d", time.Now().UnixNano()))
			for i := 0; i < len(recs); i += 10000 {
				rawCopy(b, pool, raw, recs[i:min(i+10000, len(recs))])
			}
			reqs = storetest.Shuffled(reqs)
			storetest.Parallel(b, g, func(i int) error {
				var id string
				return pool.QueryRow(ctx, sql, reqs[i].ID, reqs[i].At).Scan(&id)
			})
		})
	}
}

// BenchmarkInsert100k inserts 100k records in one call, against plain pgx
// COPY of the same rows in one transaction.
func BenchmarkInsert100k(b *testing.B) {
	const n = 100000
	pool := newPool(b, "oncelink-bench", 4)
	s, schema := benchStore(b, pool)
	raw := rawTable(b, pool, schema, "raw_insert", false)
	// The same raw COPY into a table with the store's indexes: what the
	// engine charges for the layout, apart from oncelink.
	indexed := rawTable(b, pool, schema, "raw_indexed", false)
	for _, ddl := range []string{"CREATE INDEX ON %s (member)", "CREATE INDEX ON %s (batch) WHERE batch <> ''",
		"CREATE INDEX ON %s USING brin (expires_at)", "CREATE INDEX ON %s USING brin (issued_at)"} {
		if _, err := pool.Exec(context.Background(), fmt.Sprintf(ddl, indexed.Sanitize())); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("oncelink", func(b *testing.B) { storetest.BenchInsert(b, s, n) })
	b.Run("raw-indexed", func(b *testing.B) {
		b.StopTimer()
		for i := 0; i < b.N; i++ {
			recs, _ := storetest.Tokens(b, n, fmt.Sprintf("rawi-%d-%d", time.Now().UnixNano(), i))
			b.StartTimer()
			rawCopy(b, pool, indexed, recs)
			b.StopTimer()
		}
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "records/s")
	})
	b.Run("mintbatch", func(b *testing.B) { teststores.BenchMintBatch(b, s, n) })
	b.Run("raw", func(b *testing.B) {
		b.StopTimer()
		for i := 0; i < b.N; i++ {
			recs, _ := storetest.Tokens(b, n, fmt.Sprintf("raw-%d-%d", time.Now().UnixNano(), i))
			b.StartTimer()
			rawCopy(b, pool, raw, recs)
			b.StopTimer()
		}
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "records/s")
	})
}

// BenchmarkRevokeBatch revokes a batch of 100k tokens, against a raw UPDATE
// of the batch on a table indexed by batch. The rows are inserted and the
// tables analysed outside the timer.
func BenchmarkRevokeBatch(b *testing.B) {
	const n = 100000
	ctx := context.Background()
	pool := newPool(b, "oncelink-bench", 4)
	s, schema := benchStore(b, pool)
	tokens := pgx.Identifier{schema, "tokens"}
	raw := rawTable(b, pool, schema, "raw_revoke", true)
	b.Run("oncelink", func(b *testing.B) {
		b.StopTimer()
		for i := 0; i < b.N; i++ {
			batch := fmt.Sprintf("revoke-%d-%d", time.Now().UnixNano(), i)
			recs, _ := storetest.Tokens(b, n, batch)
			if err := s.Insert(ctx, recs); err != nil {
				b.Fatal(err)
			}
			analyze(b, pool, tokens)
			b.StartTimer()
			got, err := s.Revoke(ctx, store.Filter{Batches: []string{batch}}, time.Now())
			b.StopTimer()
			if err != nil || got != n {
				b.Fatalf("Revoke = %d, %v; want %d", got, err, n)
			}
		}
	})
	b.Run("raw", func(b *testing.B) {
		b.StopTimer()
		for i := 0; i < b.N; i++ {
			batch := fmt.Sprintf("revoke-%d-%d", time.Now().UnixNano(), i)
			recs, _ := storetest.Tokens(b, n, batch)
			rawCopy(b, pool, raw, recs)
			analyze(b, pool, raw)
			b.StartTimer()
			tag, err := pool.Exec(ctx, "UPDATE "+raw.Sanitize()+" SET revoked_at = now() WHERE batch = $1", batch)
			b.StopTimer()
			if err != nil || tag.RowsAffected() != n {
				b.Fatalf("raw revoke = %d, %v; want %d", tag.RowsAffected(), err, n)
			}
		}
	})
}

// BenchmarkWatermark times one Watermark call (member and global in turn)
// with 10k or 1M outstanding tokens in the schema. The tokens are inserted
// once, with COPY, before the timer starts.
func BenchmarkWatermark(b *testing.B) {
	ctx := context.Background()
	pool := newPool(b, "oncelink-bench", 4)
	for _, size := range []struct {
		name string
		n    int
	}{{"tokens=10k", 10000}, {"tokens=1M", 1000000}} {
		// The schema belongs to the parent, so that it lives across the
		// runs of the sub-benchmark; it is migrated and filled by the first.
		s, schema := newSchemaStore(b, pool, false)
		filled := false
		b.Run(size.name, func(sb *testing.B) {
			if !filled {
				if err := s.Migrate(ctx); err != nil {
					sb.Fatal(err)
				}
				filled = true
				for done := 0; done < size.n; done += 100000 {
					recs, _ := storetest.Tokens(sb, min(100000, size.n-done), "wm")
					if err := s.Insert(ctx, recs); err != nil {
						sb.Fatal(err)
					}
				}
				analyze(sb, pool, pgx.Identifier{schema, "tokens"})
			}
			// What a token costs on disk: the table and its indexes.
			var heap, index int64
			tokens := pgx.Identifier{schema, "tokens"}.Sanitize()
			if err := pool.QueryRow(ctx, "SELECT pg_table_size($1::regclass), pg_indexes_size($1::regclass)", tokens).Scan(&heap, &index); err != nil {
				sb.Fatal(err)
			}
			settle(sb, pool)
			sb.ResetTimer()
			for i := 0; i < sb.N; i++ {
				member := ""
				if i%2 == 1 {
					member = fmt.Sprintf("m-%d", i%size.n)
				}
				if err := s.Watermark(ctx, member, time.Now().Add(-time.Hour)); err != nil {
					sb.Fatal(err)
				}
			}
			sb.ReportMetric(float64(heap)/float64(size.n), "table-B/token")
			sb.ReportMetric(float64(index)/float64(size.n), "index-B/token")
		})
	}
}

// BenchmarkConsumeClean and BenchmarkConsumeMixed run a verifier on the
// store with a pool of 32 connections: each link presented once by its
// owner, against each link presented three times with one identity in
// five wrong, every refusal written to the ledger (see
// internal/loadtest). One op is one presentation.
func BenchmarkConsumeClean(b *testing.B) { benchLoad(b, 1, 0) }

// BenchmarkConsumeMixed: see [BenchmarkConsumeClean].
func BenchmarkConsumeMixed(b *testing.B) { benchLoad(b, 3, 0.2) }

func benchLoad(b *testing.B, presentations int, wrong float64) {
	pool := newPool(b, "oncelink-load", 32)
	s, _ := benchStore(b, pool)
	b.Run("goroutines=16", func(b *testing.B) { loadtest.BenchConsume(b, s, 16, presentations, wrong) })
}
