package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	goredis "github.com/redis/go-redis/v9"

	"github.com/oncelink/oncelink/internal/storeurl"
)

// run is one go test invocation.
type run struct {
	pkg, pattern, benchtime string
	count                   int
}

// row is one line of the table: a measure and its floor.
type row struct {
	group, label string
	ours, floor  string // benchmark names, without the -N suffix
	unit         string // "ns/op", "records/s", ...
	target       string
	check        func(ours, floor float64) bool
	// ratio turns the two medians into the figure shown; nil: ours/floor.
	ratio func(ours, floor float64) float64
}

func main() {
	count := flag.Int("count", 5, "runs of each benchmark (the median is shown)")
	out := flag.String("o", "", "also write the report to this file")
	flag.Parse()
	if *count < 5 {
		fmt.Fprintln(os.Stderr, "bench: -count must be at least 5")
		os.Exit(2)
	}
	env := os.Environ()
	if os.Getenv("ONCELINK_TEST_POSTGRES_URL") == "" {
		env = append(env, "ONCELINK_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	}
	if os.Getenv("ONCELINK_TEST_REDIS_URL") == "" {
		env = append(env, "ONCELINK_TEST_REDIS_URL=redis://127.0.0.1:6379/0")
	}
	env = append(env, "ONCELINK_REQUIRE_SERVICES=1")

	n := *count
	runs := []run{
		{"./token", "^Benchmark(Mint|Parse)$", "20000x", n},
		{"./verify", "^BenchmarkConsume$", "20000x", n},
		{"./guard", "^BenchmarkCheck$", "20000x", n},
		{"./store/memstore", "^BenchmarkConsume$", "200000x", n},
		{"./store/memstore", "^BenchmarkInsert100k$", "1x", n},
		{"./store/memstore", "^BenchmarkWatermark$", "100000x", n},
		{"./store/memstore", "^BenchmarkBytesPerToken$", "1x", 1},
		{"./store/sqlitestore", "^BenchmarkConsume$", "2000x", n},
		{"./store/sqlitestore", "^BenchmarkInsert100k$", "1x", n},
		{"./store/postgresstore", "^BenchmarkConsume$", "2000x", n},
		{"./store/postgresstore", "^BenchmarkInsert100k$", "1x", n},
		{"./store/postgresstore", "^BenchmarkRevokeBatch$", "1x", n},
		{"./store/postgresstore", "^BenchmarkWatermark$", "200x", n},
		{"./store/mysqlstore", "^BenchmarkConsume$", "2000x", n},
		{"./store/mysqlstore", "^BenchmarkInsert100k$", "1x", n},
		{"./store/redisstore", "^BenchmarkConsume$", "5000x", n},
		{"./store/redisstore", "^BenchmarkInsert100k$", "1x", n},
		{"./bench", "^BenchmarkSend$", "1x", 1},
	}
	started := time.Now()
	samples := map[string]map[string][]float64{}
	var log bytes.Buffer
	for _, r := range runs {
		fmt.Fprintf(os.Stderr, "bench: %s %s (%s x%d)\n", r.pkg, r.pattern, r.benchtime, r.count)
		args := []string{"test", "-run=^$", "-bench=" + r.pattern, "-benchtime=" + r.benchtime, "-count=" + strconv.Itoa(r.count), "-timeout=30m", r.pkg}
		cmd := exec.Command("go", args...)
		cmd.Env = env
		var buf bytes.Buffer
		cmd.Stdout = io.MultiWriter(&buf, &log)
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "bench: go %s: %v\n%s", strings.Join(args, " "), err, buf.String())
			os.Exit(1)
		}
		parse(&buf, r.pkg, samples)
	}
	report := render(samples, rows(), n, time.Since(started))
	fmt.Print(report)
	if *out != "" {
		if err := os.WriteFile(*out, []byte(report), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
	}
}

var lineRE = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+\d+\s+(.*)$`)

// parse reads go test -bench output into samples[pkg/name][unit].
func parse(r io.Reader, pkg string, samples map[string]map[string][]float64) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		m := lineRE.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		name := strings.TrimPrefix(pkg, "./") + "." + m[1]
		fields := strings.Fields(m[2])
		for i := 0; i+1 < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				continue
			}
			if samples[name] == nil {
				samples[name] = map[string][]float64{}
			}
			samples[name][fields[i+1]] = append(samples[name][fields[i+1]], v)
		}
	}
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func atMost(limit float64) func(o, f float64) bool {
	return func(o, f float64) bool { return o/f <= limit }
}
func atLeast(limit float64) func(o, f float64) bool {
	return func(o, f float64) bool { return o/f >= limit }
}

func rows() []row {
	var rs []row
	add := func(r row) { rs = append(rs, r) }
	add(row{"Mint and verify, no store", "mint a link (sign, secret, hash, bindings)", "token.BenchmarkMint/oncelink", "token.BenchmarkMint/floor", "ns/op", "≤ 1.25x", atMost(1.25), nil})
	add(row{"Mint and verify, no store", "verify a link (parse, signature, claims, hash)", "token.BenchmarkParse/oncelink", "token.BenchmarkParse/floor", "ns/op", "≤ 1.25x", atMost(1.25), nil})
	add(row{"Mint and verify, no store", "verify and consume on the memory store, identity included", "verify.BenchmarkConsume/oncelink/memory", "verify.BenchmarkConsume/floor", "ns/op", "", nil, nil})
	for _, st := range []string{"memstore", "sqlitestore", "postgresstore", "mysqlstore", "redisstore"} {
		for _, g := range []string{"1", "16"} {
			target, check := "", (func(o, f float64) bool)(nil)
			if st == "postgresstore" || st == "redisstore" {
				target, check = "≤ 1.1x", atMost(1.1)
			}
			add(row{"Consume against the engine's raw single operation", st + ", " + g + " goroutine(s)",
				"store/" + st + ".BenchmarkConsume/oncelink/goroutines=" + g, "store/" + st + ".BenchmarkConsume/raw/goroutines=" + g, "ns/op", target, check, nil})
		}
	}
	for _, st := range []string{"memstore", "sqlitestore", "postgresstore", "mysqlstore", "redisstore"} {
		add(row{"Bulk insert of 100k, against the engine's raw bulk insert (throughput)", st + ": MintBatch (sign and record)",
			"store/" + st + ".BenchmarkInsert100k/mintbatch", "store/" + st + ".BenchmarkInsert100k/raw", "records/s", "≥ 0.75x", atLeast(0.75), nil})
		add(row{"Bulk insert of 100k, against the engine's raw bulk insert (throughput)", st + ": store Insert alone",
			"store/" + st + ".BenchmarkInsert100k/oncelink", "store/" + st + ".BenchmarkInsert100k/raw", "records/s", "", nil, nil})
		if raw := map[string]string{"postgresstore": "COPY", "mysqlstore": "multi-row INSERTs"}[st]; raw != "" {
			add(row{"Bulk insert of 100k, against the engine's raw bulk insert (throughput)", st + ": MintBatch, against raw " + raw + " into a table with the store's indexes",
				"store/" + st + ".BenchmarkInsert100k/mintbatch", "store/" + st + ".BenchmarkInsert100k/raw-indexed", "records/s", "≥ 0.75x", atLeast(0.75), nil})
			add(row{"Bulk insert of 100k, against the engine's raw bulk insert (throughput)", st + ": store Insert alone, against raw " + raw + " into a table with the store's indexes",
				"store/" + st + ".BenchmarkInsert100k/oncelink", "store/" + st + ".BenchmarkInsert100k/raw-indexed", "records/s", "", nil, nil})
		}
	}
	add(row{"Revocation", "postgres: revoke a 100k-link batch vs raw UPDATE ... WHERE batch", "store/postgresstore.BenchmarkRevokeBatch/oncelink", "store/postgresstore.BenchmarkRevokeBatch/raw", "ns/op", "≤ 1.2x", atMost(1.2), nil})
	for _, st := range []string{"memstore", "postgresstore"} {
		add(row{"Revocation", st + ": watermark at 1M vs at 10k outstanding links", "store/" + st + ".BenchmarkWatermark/tokens=1M", "store/" + st + ".BenchmarkWatermark/tokens=10k", "ns/op", "flat (≤ 1.5x)", atMost(1.5), nil})
	}
	add(row{"Send guard", "Guard.Check on a 20 KB HTML message, link twice", "guard.BenchmarkCheck", "", "ns/op", "< 25 µs", func(o, _ float64) bool { return o < 25000 }, nil})
	return rs
}

func human(v float64, unit string) string {
	switch unit {
	case "ns/op":
		switch {
		case v >= 1e9:
			return fmt.Sprintf("%.2f s", v/1e9)
		case v >= 1e6:
			return fmt.Sprintf("%.2f ms", v/1e6)
		case v >= 1e3:
			return fmt.Sprintf("%.1f µs", v/1e3)
		}
		return fmt.Sprintf("%.0f ns", v)
	case "records/s", "links/s":
		return fmt.Sprintf("%.0fk/s", v/1000)
	}
	return fmt.Sprintf("%.1f %s", v, unit)
}

func render(samples map[string]map[string][]float64, rs []row, count int, took time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# oncelink benchmarks\n\nMade by `go run ./bench -o BENCHMARKS.md` on %s, in %s.\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"), took.Round(time.Second))
	fmt.Fprintf(&b, "%s\n", machine())
	fmt.Fprintf(&b, "Each figure is the median of %d runs; every ratio compares two benchmarks of the same run on the same engine. ", count)
	b.WriteString("Latencies: lower is better, ratio = oncelink / floor. Throughputs: higher is better, ratio = oncelink / floor.\n")
	group := ""
	for _, r := range rs {
		if r.group != group {
			group = r.group
			fmt.Fprintf(&b, "\n## %s\n\n| measure | oncelink | floor | ratio | target | |\n| --- | ---: | ---: | ---: | --- | --- |\n", group)
		}
		o := median(samples[r.ours][r.unit])
		f := median(samples[r.floor][r.unit])
		ratio, floor, verdict := "", "", ""
		if r.floor != "" {
			floor = human(f, r.unit)
			if f > 0 {
				ratio = fmt.Sprintf("%.2fx", o/f)
			}
		}
		if r.check != nil && o > 0 {
			verdict = "met"
			if !r.check(o, f) {
				verdict = "**missed**"
			}
		}
		if o == 0 {
			verdict = "not measured"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", r.label, human(o, r.unit), floor, ratio, r.target, verdict)
	}
	b.WriteString("\n## Scaling\n\n| measure | value | target |\n| --- | ---: | --- |\n")
	bpt := median(samples["store/memstore.BenchmarkBytesPerToken"]["B/token"])
	verdict := "met"
	if bpt >= 250 || bpt == 0 {
		verdict = "**missed**"
	}
	fmt.Fprintf(&b, "| memory store, bytes per outstanding link at 1M links | %.0f B | < 250 B, %s |\n", bpt, verdict)
	for _, sz := range []string{"10k", "1M"} {
		s := samples["store/postgresstore.BenchmarkWatermark/tokens="+sz]
		fmt.Fprintf(&b, "| postgres, table bytes per link at %s links | %.0f B | |\n", sz, median(s["table-B/token"]))
		fmt.Fprintf(&b, "| postgres, index bytes per link at %s links | %.0f B | |\n", sz, median(s["index-B/token"]))
	}
	for _, st := range []string{"sqlite", "postgres"} {
		for _, n := range []string{"18000", "1000000"} {
			s := samples["bench.BenchmarkSend/"+st+"/links="+n]
			fmt.Fprintf(&b, "| %s, mint and send %s links (guard on every message) | %.2f s (%.0fk links/s) | |\n", st, n, median(s["s/send"]), median(s["links/s"])/1000)
		}
	}
	b.WriteString("\n## Raw samples\n\n| benchmark | unit | samples |\n| --- | --- | --- |\n")
	names := make([]string, 0, len(samples))
	for name := range samples {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		units := make([]string, 0, len(samples[name]))
		for u := range samples[name] {
			units = append(units, u)
		}
		slices.Sort(units)
		for _, u := range units {
			if u == "B/op" || u == "allocs/op" {
				continue
			}
			var vs []string
			for _, v := range samples[name][u] {
				vs = append(vs, strconv.FormatFloat(v, 'g', 5, 64))
			}
			fmt.Fprintf(&b, "| %s | %s | %s |\n", name, u, strings.Join(vs, " "))
		}
	}
	return b.String()
}

// machine describes where the benchmarks ran.
func machine() string {
	cpu := "unknown CPU"
	if f, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(f), "\n") {
			if strings.HasPrefix(line, "model name") {
				_, v, _ := strings.Cut(line, ":")
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	pg, rd := "?", "?"
	pgURL := os.Getenv("ONCELINK_TEST_POSTGRES_URL")
	if pgURL == "" {
		pgURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	if c, err := pgx.Connect(ctx, pgURL); err == nil {
		c.QueryRow(ctx, "SHOW server_version").Scan(&pg)
		c.Close(ctx)
	}
	rURL := os.Getenv("ONCELINK_TEST_REDIS_URL")
	if rURL == "" {
		rURL = "redis://127.0.0.1:6379/0"
	}
	if o, err := goredis.ParseURL(rURL); err == nil {
		c := goredis.NewClient(o)
		if info, err := c.Info(ctx, "server").Result(); err == nil {
			for _, l := range strings.Split(info, "\n") {
				if v, ok := strings.CutPrefix(strings.TrimSpace(l), "redis_version:"); ok {
					rd = v
				}
			}
		}
		c.Close()
	}
	my := "?"
	if cfg, _, err := storeurl.MySQLConfig(cmp.Or(os.Getenv("ONCELINK_TEST_MYSQL_URL"), "mysql://root@127.0.0.1:3306/test")); err == nil {
		if connector, err := mysql.NewConnector(cfg); err == nil {
			db := sql.OpenDB(connector)
			db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&my)
			db.Close()
		}
	}
	return fmt.Sprintf("Machine: %s, %d cores, Linux %s, %s, PostgreSQL %s, MariaDB %s and Redis %s on loopback, SQLite on the local disk.\n",
		cpu, runtime.NumCPU(), strings.TrimSpace(string(kernel)), runtime.Version(), pg, my, rd)
}
