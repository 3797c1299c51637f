package sqlitestore

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/oncelink/oncelink/store"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// applicationID marks a file as an oncelink store (PRAGMA application_id,
// "oncl"); it is set by the first migration.
const applicationID = 0x6f6e636c

// migrate applies the embedded migrations the file lacks, in one IMMEDIATE
// transaction: a second process opening a fresh file waits for the first
// at BEGIN and then finds the schema in place. PRAGMA user_version holds the
// number of migrations applied. A file already up to date is only read, so
// opening it does not wait for another process's write lock.
//
// When migrating is false it applies nothing, and a file that lacks a
// migration is [store.ErrNoStore].
func migrate(ctx context.Context, db *sql.DB, migrating bool) error {
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return unavailable("migrate", err)
	}
	version, err := schemaVersion(ctx, db, len(names))
	if err != nil || version == len(names) {
		return err
	}
	if !migrating {
		return fmt.Errorf("%w: sqlite: the file has schema version %d, this program needs %d (migrate it)", store.ErrNoStore, version, len(names))
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return unavailable("migrate", err)
	}
	defer tx.Rollback()
	if version, err = schemaVersion(ctx, tx, len(names)); err != nil {
		return err
	}
	for i := version; i < len(names); i++ {
		body, err := migrationFS.ReadFile(names[i])
		if err != nil {
			return unavailable("migrate", err)
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			return unavailable("migrate "+filepath.Base(names[i]), err)
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", i+1)); err != nil {
			return unavailable("migrate", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return unavailable("migrate", err)
	}
	return nil
}

// schemaVersion returns how many migrations the file has, and refuses a
// file of another application or with a newer schema than known.
func schemaVersion(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, known int) (int, error) {
	var version, app int
	if err := q.QueryRowContext(ctx, userVersionSQL).Scan(&version); err != nil {
		return 0, unavailable("migrate", err)
	}
	if err := q.QueryRowContext(ctx, applicationIDSQL).Scan(&app); err != nil {
		return 0, unavailable("migrate", err)
	}
	if app != applicationID && (app != 0 || version != 0) {
		return 0, fmt.Errorf("%w: sqlite: the file belongs to another application (application_id %d, user_version %d)",
			store.ErrUnavailable, app, version)
	}
	if version > known {
		return 0, fmt.Errorf("%w: sqlite: the file has schema version %d, newer than this program's %d",
			store.ErrUnavailable, version, known)
	}
	return version, nil
}
