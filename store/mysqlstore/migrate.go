package mysqlstore

import (
	"bufio"
	"context"
	"database/sql"
	"embed"
	"fmt"
	"hash/fnv"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"time"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

type migration struct {
	version    int
	name       string
	statements []string // with the names of names() in place
}

// migrations returns the embedded migrations in version order. A file is
// named NNNN_name.sql.
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
			panic("mysqlstore: migration file without a version: " + name)
		}
		body, err := migrationFS.ReadFile(f)
		if err != nil {
			panic(err)
		}
		out = append(out, migration{version: v, name: name, statements: splitStatements(string(body))})
	}
	slices.SortFunc(out, func(a, b migration) int { return a.version - b.version })
	return out
}

func latestVersion() int {
	m := migrations()
	return m[len(m)-1].version
}

// splitStatements splits a migration file as the mariadb client does, for
// what the files use: a statement ends with the delimiter (";" until a
// "DELIMITER x" line changes it) at the end of a line, before any "-- "
// comment. The files hold no string literal with "-- " in it.
func splitStatements(body string) []string {
	var (
		out   []string
		cur   strings.Builder
		delim = ";"
	)
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		code := strings.TrimRight(stripComment(line), " \t")
		if d, ok := strings.CutPrefix(strings.TrimSpace(code), "DELIMITER "); ok {
			delim = strings.TrimSpace(d)
			continue
		}
		if cur.Len() == 0 && strings.TrimSpace(code) == "" {
			continue
		}
		if strings.HasSuffix(code, delim) {
			cur.WriteString(strings.TrimSuffix(code, delim))
			out = append(out, strings.TrimSpace(cur.String()))
			cur.Reset()
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
	}
	if strings.TrimSpace(cur.String()) != "" {
		panic("mysqlstore: a migration ends without its delimiter")
	}
	return out
}

// stripComment returns line without its "-- " comment, if any: "--"
// followed by a space, a tab or the end of the line, as MariaDB reads it.
func stripComment(line string) string {
	for i := 0; i+1 < len(line); i++ {
		if line[i] == '-' && line[i+1] == '-' && (i+2 == len(line) || line[i+2] == ' ' || line[i+2] == '\t') {
			return line[:i]
		}
	}
	return line
}

// migrateLockWait bounds the wait for another instance's migration when
// the context has no deadline.
const migrateLockWait = 60 * time.Second

// lockName is the name of the GET_LOCK lock that serialises migrations of
// the tables of one database and prefix (names are at most 64 bytes).
func (s *Store) lockName() string {
	h := fnv.New64a()
	h.Write([]byte(s.database + "\x00" + s.prefix))
	return fmt.Sprintf("oncelink.migrate.%016x", h.Sum64())
}

// Migrate creates the store's tables and procedures, or upgrades them, by
// applying the embedded migrations not yet recorded in the migrations
// table. It holds a named lock (GET_LOCK) for the database and prefix
// while it runs, so that instances migrating at the same time apply each
// migration once: the others wait, then find nothing to do. It is
// idempotent. MariaDB commits each DDL statement on its own, so a
// migration interrupted half-way is applied again, whole, by the next
// Migrate; every statement of a migration is written to allow that.
func (s *Store) Migrate(ctx context.Context) error {
	return s.migrate(ctx, latestVersion())
}

// migrate applies the migrations not yet applied up to version upTo,
// under the migration lock.
func (s *Store) migrate(ctx context.Context, upTo int) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return s.unavailable("migrate", err)
	}
	defer conn.Close()
	wait := migrateLockWait
	if d, ok := ctx.Deadline(); ok {
		wait = time.Until(d)
	}
	var got sql.NullInt64
	if err := conn.QueryRowContext(ctx, sqlGetLock, s.lockName(), max(1, int(wait.Seconds()))).Scan(&got); err != nil {
		return s.unavailable("migrate", err)
	}
	if !got.Valid || got.Int64 != 1 {
		return s.unavailable("migrate", fmt.Errorf("another instance held the migration lock for %v", wait.Round(time.Second)))
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), sqlReleaseLock, s.lockName())
	return s.migrateLocked(ctx, conn, upTo)
}

func (s *Store) migrateLocked(ctx context.Context, conn *sql.Conn, upTo int) error {
	if _, err := conn.ExecContext(ctx, s.sql.migrationsTable); err != nil {
		return s.unavailable("migrate", err)
	}
	res, err := conn.QueryContext(ctx, s.sql.migrationsDone)
	if err != nil {
		return s.unavailable("migrate", err)
	}
	var done []int
	for res.Next() {
		var v int
		if err := res.Scan(&v); err != nil {
			res.Close()
			return s.unavailable("migrate", err)
		}
		done = append(done, v)
	}
	if err := res.Err(); err != nil {
		return s.unavailable("migrate", err)
	}
	res.Close()
	named := names(s.prefix)
	for _, m := range migrations() {
		if m.version > upTo || slices.Contains(done, m.version) {
			continue
		}
		for _, stmt := range m.statements {
			if _, err := conn.ExecContext(ctx, named.Replace(stmt)); err != nil {
				return s.unavailable("migrate "+m.name, err)
			}
		}
		if _, err := conn.ExecContext(ctx, s.sql.migrationApplied, m.version, m.name); err != nil {
			return s.unavailable("migrate", err)
		}
	}
	return nil
}
