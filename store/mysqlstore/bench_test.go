package mysqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/oncelink/oncelink/internal/teststores"
	"github.com/oncelink/oncelink/store"
	"github.com/oncelink/oncelink/store/mysqlstore"
	"github.com/oncelink/oncelink/store/storetest"
)

// Every benchmark compares the store with the raw single operation on the
// same server, in the same run: a minimal table with the same column
// shapes, a primary key, and only the index the raw operation needs.

// benchStore returns a store in a fresh database, migrated, and a plain
// connection pool to the same database. Call it from the parent benchmark,
// whose cleanup runs once, after every sub-benchmark.
func benchStore(b *testing.B) (*mysqlstore.Store, *mysql.Config, *sql.DB) {
	b.Helper()
	cfg := newDatabase(b, adminDB(b))
	s, err := mysqlstore.Open(cfg, mysqlstore.WithMaxConns(20))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	if err := s.Migrate(context.Background()); err != nil {
		b.Fatal(err)
	}
	raw := cfg.Clone()
	raw.ParseTime = true
	connector, err := mysql.NewConnector(raw)
	if err != nil {
		b.Fatal(err)
	}
	db := sql.OpenDB(connector)
	db.SetMaxOpenConns(20)
	db.SetMaxIdleConns(20)
	b.Cleanup(func() { db.Close() })
	return s, cfg, db
}

// rawTable creates a minimal table of the same column shapes as the
// store's, with the given extra indexes.
func rawTable(b *testing.B, db *sql.DB, name string, indexes ...string) string {
	b.Helper()
	q := "CREATE TABLE " + name + ` (
	id BINARY(16) NOT NULL PRIMARY KEY, member VARCHAR(256) NOT NULL, purpose VARCHAR(64) NOT NULL,
	batch VARCHAR(128) NOT NULL, recipient VARCHAR(320) NOT NULL, secret_hash BINARY(32) NOT NULL,
	state BINARY(32), issued_at DATETIME(6) NOT NULL, expires_at DATETIME(6) NOT NULL,
	consumed_at DATETIME(6), revoked_at DATETIME(6)` + strings.Join(append([]string{""}, indexes...), ", ") +
		`) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_nopad_bin`
	if _, err := db.Exec(q); err != nil {
		b.Fatal(err)
	}
	return name
}

// rawInsert is a plain multi-row INSERT of records into a raw table, 500
// rows a statement, in one transaction.
func rawInsert(b *testing.B, db *sql.DB, table string, recs []store.Record) {
	b.Helper()
	tx, err := db.Begin()
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback()
	row := "(?, ?, ?, ?, ?, ?, ?, ?, ?)"
	for i := 0; i < len(recs); i += 500 {
		chunk := recs[i:min(i+500, len(recs))]
		args := make([]any, 0, 9*len(chunk))
		for j := range chunk {
			r := &chunk[j]
			id, _ := store.ParseID(r.ID)
			args = append(args, id[:], r.Member, r.Purpose, r.Batch, r.Recipient, r.SecretHash[:], nil, r.IssuedAt, r.ExpiresAt)
		}
		q := "INSERT INTO " + table + " (id, member, purpose, batch, recipient, secret_hash, state, issued_at, expires_at) VALUES " +
			strings.TrimSuffix(strings.Repeat(row+", ", len(chunk)), ", ")
		if _, err := tx.Exec(q, args...); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkConsume consumes distinct valid tokens, with every check, in
// random order, against the raw single-statement UPDATE of a prepared
// statement (one round trip, as the store's CALL). Both tables hold the
// same 100k background rows plus the tokens of each run. The
// multi-statement variant is the alternative the store did not take: the
// UPDATE with every check and a SELECT of the record, sent together in one
// round trip (multiStatements and interpolateParams).
func BenchmarkConsume(b *testing.B) {
	ctx := context.Background()
	s, cfg, db := benchStore(b)
	raw := rawTable(b, db, "raw_consume")
	background, _ := storetest.Tokens(b, 100000, "background")
	for i := 0; i < len(background); i += 10000 {
		if err := s.Insert(ctx, background[i:min(i+10000, len(background))]); err != nil {
			b.Fatal(err)
		}
	}
	rawInsert(b, db, raw, background)
	update, err := db.Prepare("UPDATE " + raw + " SET consumed_at = ? WHERE id = ? AND consumed_at IS NULL")
	if err != nil {
		b.Fatal(err)
	}
	defer update.Close()
	multi := multiStatementConsume(b, cfg)
	for _, g := range []int{1, 16} {
		b.Run(fmt.Sprintf("oncelink/goroutines=%d", g), func(b *testing.B) {
			storetest.BenchConsume(b, s, g)
		})
		b.Run(fmt.Sprintf("raw/goroutines=%d", g), func(b *testing.B) {
			recs, reqs := storetest.Tokens(b, b.N, fmt.Sprintf("raw-%d", time.Now().UnixNano()))
			rawInsert(b, db, raw, recs)
			reqs = storetest.Shuffled(reqs)
			storetest.Parallel(b, g, func(i int) error {
				id, _ := store.ParseID(reqs[i].ID)
				res, err := update.Exec(reqs[i].At, id[:])
				if err == nil {
					if n, _ := res.RowsAffected(); n != 1 {
						err = fmt.Errorf("raw update changed %d rows", n)
					}
				}
				return err
			})
		})
		b.Run(fmt.Sprintf("multistatement/goroutines=%d", g), func(b *testing.B) {
			recs, reqs := storetest.Tokens(b, b.N, fmt.Sprintf("multi-%d", time.Now().UnixNano()))
			if err := s.Insert(ctx, recs); err != nil {
				b.Fatal(err)
			}
			reqs = storetest.Shuffled(reqs)
			storetest.Parallel(b, g, func(i int) error { return multi(reqs[i]) })
		})
	}
}

// multiStatementConsume returns a consume of the store's tables made of an
// UPDATE with every check and a SELECT of the record, in one round trip.
func multiStatementConsume(b *testing.B, cfg *mysql.Config) func(store.ConsumeRequest) error {
	b.Helper()
	c := cfg.Clone()
	c.ParseTime, c.MultiStatements, c.InterpolateParams = true, true, true
	connector, err := mysql.NewConnector(c)
	if err != nil {
		b.Fatal(err)
	}
	db := sql.OpenDB(connector)
	db.SetMaxOpenConns(20)
	db.SetMaxIdleConns(20)
	b.Cleanup(func() { db.Close() })
	q := `UPDATE oncelink_tokens t SET t.status = 2, t.consumed_at = ?, t.c_identity = ?, t.c_ip = ?, t.c_user_agent = ?, t.c_session = ?
WHERE t.id = ? AND t.status = 1 AND t.secret_hash = ? AND t.expires_at > ? AND (t.state IS NULL OR t.state <=> ?)
AND NOT EXISTS (SELECT 1 FROM oncelink_guards g WHERE ((g.scope = 1 AND g.k = '') OR (g.scope = 2 AND g.k = t.batch)
OR (g.scope = 3 AND g.k = t.member)) AND (g.held OR g.cutoff > t.issued_at OR g.cutoff_seq > t.seq));
SELECT ROW_COUNT(), id, member, purpose, batch, recipient, secret_hash, state, issued_at, expires_at, status, failures,
consumed_at, revoked_at, c_identity, c_ip, c_user_agent, c_session, seq FROM oncelink_tokens WHERE id = ?`
	return func(req store.ConsumeRequest) error {
		id, _ := store.ParseID(req.ID)
		p := req.Presentation
		rows, err := db.Query(q, req.At, p.Identity, p.IP, p.UserAgent, p.Session, id[:], req.SecretHash[:], req.At, nil, id[:])
		if err != nil {
			return err
		}
		defer rows.Close()
		changed := int64(-1)
		for {
			for rows.Next() {
				var r store.Record
				vals := []any{&changed, new([]byte), &r.Member, &r.Purpose, &r.Batch, &r.Recipient, new([]byte), &r.State,
					&r.IssuedAt, &r.ExpiresAt, new(int), &r.Failures, new(sql.NullTime), new(sql.NullTime),
					new(sql.NullString), new(sql.NullString), new(sql.NullString), new(sql.NullString), &r.Seq}
				if err := rows.Scan(vals...); err != nil {
					return err
				}
			}
			if !rows.NextResultSet() {
				break
			}
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if changed != 1 {
			return fmt.Errorf("the multi-statement consume changed %d rows", changed)
		}
		return nil
	}
}

// BenchmarkInsert100k inserts 100k records in one call, against plain
// multi-row INSERTs of the same rows in one transaction, into a table with
// a primary key only and into one with the store's indexes.
func BenchmarkInsert100k(b *testing.B) {
	const n = 100000
	s, _, db := benchStore(b)
	raw := rawTable(b, db, "raw_insert")
	indexed := rawTable(b, db, "raw_indexed", "KEY (member, issued_at)", "KEY (batch, issued_at)", "KEY (issued_at)", "KEY (expires_at)")
	rawRun := func(table string) func(b *testing.B) {
		return func(b *testing.B) {
			b.StopTimer()
			for i := 0; i < b.N; i++ {
				recs, _ := storetest.Tokens(b, n, fmt.Sprintf("raw-%d-%d", time.Now().UnixNano(), i))
				b.StartTimer()
				rawInsert(b, db, table, recs)
				b.StopTimer()
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "records/s")
		}
	}
	b.Run("oncelink", func(b *testing.B) { storetest.BenchInsert(b, s, n) })
	b.Run("raw-indexed", rawRun(indexed))
	b.Run("mintbatch", func(b *testing.B) { teststores.BenchMintBatch(b, s, n) })
	b.Run("raw", rawRun(raw))
}
