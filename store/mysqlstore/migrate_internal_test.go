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
// each do one thing, and the procedures are created whole.
func TestMigrations(t *testing.T) {
	ms := migrations()
	if len(ms) == 0 || ms[0].version != 1 {
		t.Fatalf("migrations = %+v", ms)
	}
	procs := 0
	for _, m := range ms {
		for _, st := range m.statements {
			if strings.HasPrefix(st, "CREATE PROCEDURE") {
				procs++
				continue
			}
			if strings.Contains(st, ";") {
				t.Errorf("%s: a statement holds a semicolon: %.80q", m.name, st)
			}
		}
	}
	if procs != 3 {
		t.Fatalf("%d procedures, want 3 (check, consume, fail)", procs)
	}
}
