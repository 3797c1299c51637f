package postgresstore

import (
	"context"
	"embed"
	"hash/fnv"
	"io/fs"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the embedded migrations in version order. A file is
// named NNNN_name.sql, and {schema} in it stands for the quoted schema.
func migrations() []migration {
	files, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		panic(err) // the pattern is a constant
	}
	var out []migration
	for _, f := range files {
		name := strings.TrimPrefix(f, "migrations/")
		num, _, _ := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if err != nil {
			panic("postgres: migration file without a version: " + name)
		}
		body, err := migrationFS.ReadFile(f)
		if err != nil {
			panic(err)
		}
		out = append(out, migration{version: v, name: name, sql: string(body)})
	}
	slices.SortFunc(out, func(a, b migration) int { return a.version - b.version })
	return out
}

func latestVersion() int {
	m := migrations()
	return m[len(m)-1].version
}

// Migrate creates the schema and its tables, or upgrades them, by applying
// the embedded migrations not yet recorded in the schema's
// schema_migrations table. It runs in one transaction under a transaction
// advisory lock keyed by the schema name, so that instances migrating at
// the same time apply each migration once; it is idempotent.
func (s *Store) Migrate(ctx context.Context) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return s.unavailable("migrate", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	h := fnv.New64a()
	h.Write([]byte("oncelink.migrate." + s.schema))
	if _, err := tx.Exec(ctx, migrateLockSQL, int64(h.Sum64())); err != nil {
		return s.unavailable("migrate", err)
	}
	var exists bool
	if err := tx.QueryRow(ctx, schemaExistsSQL, s.schema).Scan(&exists); err != nil {
		return s.unavailable("migrate", err)
	}
	if !exists {
		if _, err := tx.Exec(ctx, s.sql.createSchema); err != nil {
			return s.unavailable("migrate", err)
		}
	}
	if _, err := tx.Exec(ctx, s.sql.migrations); err != nil {
		return s.unavailable("migrate", err)
	}
	rows, _ := tx.Query(ctx, s.sql.versions)
	done, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return s.unavailable("migrate", err)
	}
	for _, m := range migrations() {
		if slices.Contains(done, int32(m.version)) {
			continue
		}
		if _, err := tx.Exec(ctx, strings.ReplaceAll(m.sql, "{schema}", s.sql.schema)); err != nil {
			return s.unavailable("migrate "+m.name, err)
		}
		if _, err := tx.Exec(ctx, s.sql.recordVersion, m.version, m.name); err != nil {
			return s.unavailable("migrate", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return s.unavailable("migrate", err)
	}
	return nil
}
