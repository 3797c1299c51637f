package mysqlstore

import (
	"strings"
	"testing"
)

func TestSplitStatements(t *testing.T) {
	got := splitStatements(`-- a comment; with a semicolon
CREATE TABLE a (
    x INT -- a comment that ends with the delimiter;
); -- a comment after the statement
DROP PROCEDURE IF EXISTS p;

DELIMITER $$
-- the body's semicolons end nothing;
CREATE PROCEDURE p()
BEGIN
    SELECT 1;
    SELECT 2;
END$$
DELIMITER ;
SELECT 3;
`)
	want := []string{
		"CREATE TABLE a (\n    x INT -- a comment that ends with the delimiter;\n)",
		"DROP PROCEDURE IF EXISTS p",
		"CREATE PROCEDURE p()\nBEGIN\n    SELECT 1;\n    SELECT 2;\nEND",
		"SELECT 3",
	}
	if len(got) != len(want) {
		t.Fatalf("got %d statements %q, want %d", len(got), got, len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("statement %d = %q, want %q", i, got[i], want[i])
		}
	}
}

// TestMigrations: every embedded migration splits into statements that
// each do one thing, every procedure is dropped before it is created, so
// that a migration applied again succeeds, and the migrations leave the
// procedures the store calls.
func TestMigrations(t *testing.T) {
	ms := migrations()
	if len(ms) == 0 || ms[0].version != 1 {
		t.Fatalf("migrations = %+v", ms)
	}
	procs := map[string]bool{}
	for i, m := range ms {
		if m.version != i+1 {
			t.Fatalf("migration %s has version %d, want %d", m.name, m.version, i+1)
		}
		dropped := map[string]bool{}
		for _, st := range m.statements {
			if name, ok := strings.CutPrefix(st, "DROP PROCEDURE IF EXISTS "); ok {
				dropped[name] = true
				continue
			}
			if rest, ok := strings.CutPrefix(st, "CREATE PROCEDURE "); ok {
				name, _, _ := strings.Cut(rest, "(")
				if !dropped[name] {
					t.Errorf("%s: procedure %s is created without being dropped first", m.name, name)
				}
				procs[name] = true
				continue
			}
			if strings.Contains(st, ";") {
				t.Errorf("%s: a statement holds a semicolon: %.80q", m.name, st)
			}
		}
	}
	for _, name := range []string{"{check}", "{consume}", "{fail}", "{hit}"} {
		if !procs[name] {
			t.Errorf("no migration creates %s", name)
		}
	}
	if len(procs) != 4 {
		t.Fatalf("procedures %v, want check, consume, fail and hit", procs)
	}
}
