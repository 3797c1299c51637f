package sqlitestore_test

import (
	"context"
	"database/sql"
	"fmt"
	mrand "math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/oncelink/oncelink/internal/loadtest"
	"github.com/oncelink/oncelink/internal/teststores"
	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/store/sqlitestore"
	"github.com/oncelink/oncelink/store/storetest"
)

// The raw baselines run on a file with the pragmas of the store and, like
// the store's writes, through one write connection.
const rawDSN = "?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=foreign_keys(1)&_txlock=immediate"

func rawDB(b *testing.B, schema string) *sql.DB {
	b.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(b.TempDir(), "raw.db")+rawDSN)
	if err != nil {
		b.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	b.Cleanup(func() { db.Close() })
	if _, err := db.Exec(schema); err != nil {
		b.Fatal(err)
	}
	return db
}

// BenchmarkConsume compares Consume of distinct valid tokens with the bare
// single-statement consume on a minimal table:
// UPDATE t SET consumed_at = ? WHERE id = ? AND consumed_at IS NULL RETURNING id.
func BenchmarkConsume(b *testing.B) {
	for _, g := range []int{1, 16} {
		b.Run(fmt.Sprintf("oncelink/goroutines=%d", g), func(b *testing.B) {
			s, err := sqlitestore.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			storetest.BenchConsume(b, s, g)
		})
	}
	for _, g := range []int{1, 16} {
		b.Run(fmt.Sprintf("raw/goroutines=%d", g), func(b *testing.B) {
			db := rawDB(b, "CREATE TABLE t (id BLOB NOT NULL PRIMARY KEY, consumed_at INTEGER) STRICT, WITHOUT ROWID")
			ids := make([][]byte, b.N)
			tx, err := db.Begin()
			if err != nil {
				b.Fatal(err)
			}
			for i := range ids {
				id := uuid.Must(uuid.NewV7())
				ids[i] = id[:]
				if _, err := tx.Exec("INSERT INTO t (id) VALUES (?)", ids[i]); err != nil {
					b.Fatal(err)
				}
			}
			if err := tx.Commit(); err != nil {
				b.Fatal(err)
			}
			st, err := db.Prepare("UPDATE t SET consumed_at = ? WHERE id = ? AND consumed_at IS NULL RETURNING id")
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			at := time.Now().UnixMicro()
			order := mrand.Perm(len(ids)) // as the store's benchmark: links clicked in no order
			storetest.Parallel(b, g, func(i int) error {
				var got []byte
				return st.QueryRowContext(ctx, at, ids[order[i]]).Scan(&got)
			})
		})
	}
}

// BenchmarkInsert100k compares Insert of 100,000 records in one call with
// a prepared single-row INSERT of the same columns, 100,000 times in one
// transaction, into a table with a primary key and no other index.
func BenchmarkInsert100k(b *testing.B) {
	const n = 100000
	b.Run("oncelink", func(b *testing.B) {
		s, err := sqlitestore.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"))
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		storetest.BenchInsert(b, s, n)
	})
	b.Run("mintbatch", func(b *testing.B) {
		s, err := sqlitestore.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"))
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		teststores.BenchMintBatch(b, s, n)
	})
	b.Run("raw", func(b *testing.B) {
		db := rawDB(b, `CREATE TABLE t (id BLOB NOT NULL PRIMARY KEY, member TEXT NOT NULL, purpose TEXT NOT NULL,
			batch TEXT NOT NULL, recipient TEXT NOT NULL, secret_hash BLOB NOT NULL, state_hash BLOB,
			issued_at INTEGER NOT NULL, expires_at INTEGER NOT NULL) STRICT, WITHOUT ROWID`)
		b.StopTimer()
		for i := 0; i < b.N; i++ {
			recs, _ := storetest.Tokens(b, n, fmt.Sprint("raw-", i))
			b.StartTimer()
			if err := rawInsert(db, recs); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
		}
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "records/s")
	})
}

func rawInsert(db *sql.DB, recs []store.Record) error {
	tx, err := db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	st, err := tx.Prepare(`INSERT INTO t (id, member, purpose, batch, recipient, secret_hash, state_hash, issued_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	for i := range recs {
		r := &recs[i]
		id := uuid.MustParse(r.ID)
		h := r.SecretHash
		if _, err := st.Exec(id[:], r.Member, r.Purpose, r.Batch, r.Recipient, h[:], nil,
			r.IssuedAt.UnixMicro(), r.ExpiresAt.UnixMicro()); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// BenchmarkConsumeClean and BenchmarkConsumeMixed run a verifier on a
// store in a file: each link presented once by its owner, against each
// link presented three times with one identity in five wrong, every
// refusal written to the ledger (see internal/loadtest). One op is one
// presentation.
func BenchmarkConsumeClean(b *testing.B) { benchLoad(b, 1, 0) }

// BenchmarkConsumeMixed: see [BenchmarkConsumeClean].
func BenchmarkConsumeMixed(b *testing.B) { benchLoad(b, 3, 0.2) }

func benchLoad(b *testing.B, presentations int, wrong float64) {
	s, err := sqlitestore.Open(context.Background(), filepath.Join(b.TempDir(), "load.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.Run("goroutines=16", func(b *testing.B) { loadtest.BenchConsume(b, s, 16, presentations, wrong) })
}
