package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"

	"github.com/oncelink/oncelink/store"
)

// probeFile checks, without writing anything, that the file at path is an
// oncelink store with every migration applied: it exists, and a read-only
// connection finds oncelink's application id and schema version in it. A
// missing file, an empty one, another program's database or an older
// schema is [store.ErrNoStore]. The read goes through SQLite, which keeps
// the POSIX locks of the process's other connections to the file.
func probeFile(ctx context.Context, path string) error {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: sqlite: no file at %s", store.ErrNoStore, path)
	}
	if err != nil {
		return unavailable("open", err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%w: sqlite: %s is not a file", store.ErrNoStore, path)
	}
	db, err := sql.Open("sqlite", fileURI(path, url.Values{"mode": {"ro"}, "_pragma": {"query_only(1)"}}))
	if err != nil {
		return unavailable("open", err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	var app, version int
	if err := db.QueryRowContext(ctx, applicationIDSQL).Scan(&app); err != nil {
		return fmt.Errorf("%w: sqlite: %s is not an oncelink store: %w", store.ErrNoStore, path, err)
	}
	if err := db.QueryRowContext(ctx, userVersionSQL).Scan(&version); err != nil {
		return unavailable("open", err)
	}
	known, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return unavailable("open", err)
	}
	switch {
	case app != applicationID:
		return fmt.Errorf("%w: sqlite: %s is not an oncelink store (application_id %d)", store.ErrNoStore, path, app)
	case version < len(known):
		return fmt.Errorf("%w: sqlite: %s has schema version %d, this program needs %d (migrate it)", store.ErrNoStore, path, version, len(known))
	}
	return nil
}
