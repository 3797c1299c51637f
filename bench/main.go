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

// run is one go test invocation, in a group that -only can select.
type run struct {
	group, pkg, pattern, benchtime string
	count                          int // 0: the -count flag
}

// runs lists every invocation, in the order they run.
var runs = []run{
	{"mint", "./token", "^Benchmark(Mint|Parse)$", "20000x", 0},
	{"mint", "./verify", "^BenchmarkConsume$", "20000x", 0},
	{"guard", "./guard", "^BenchmarkCheck$", "20000x", 0},
	{"peers", "./bench", "^BenchmarkPeers$/^(postgres|redis)$/.*/goroutines=1$", "600x", 0},
	{"peers", "./bench", "^BenchmarkPeers$/^(postgres|redis)$/.*/goroutines=16$", "1500x", 0},
	{"peers", "./bench", "^BenchmarkPeers$/^stateless$", "20000x", 0},
	{"mixed", "./bench", "^BenchmarkMixed$", "1800x", 0},
	{"consume", "./store/memstore", "^BenchmarkConsume$", "200000x", 0},
	{"insert", "./store/memstore", "^BenchmarkInsert100k$", "1x", 0},
	{"revoke", "./store/memstore", "^BenchmarkWatermark$", "100000x", 0},
	{"scaling", "./store/memstore", "^BenchmarkBytesPerToken$", "1x", 1},
	{"consume", "./store/sqlitestore", "^BenchmarkConsume$", "2000x", 0},
	{"insert", "./store/sqlitestore", "^BenchmarkInsert100k$", "1x", 0},
	{"consume", "./store/postgresstore", "^BenchmarkConsume$", "2000x", 0},
	{"insert", "./store/postgresstore", "^BenchmarkInsert100k$", "1x", 0},
	{"revoke", "./store/postgresstore", "^BenchmarkRevokeBatch$", "1x", 0},
	{"revoke", "./store/postgresstore", "^BenchmarkWatermark$", "200x", 0},
	{"consume", "./store/mysqlstore", "^BenchmarkConsume$", "2000x", 0},
	{"insert", "./store/mysqlstore", "^BenchmarkInsert100k$", "1x", 0},
	{"consume", "./store/redisstore", "^BenchmarkConsume$", "5000x", 0},
	{"insert", "./store/redisstore", "^BenchmarkInsert100k$", "1x", 0},
	{"send", "./bench", "^BenchmarkSend$", "1x", 1},
}

// groups returns the groups of runs, in order, once each.
func groups() []string {
	var gs []string
	for _, r := range runs {
		if !slices.Contains(gs, r.group) {
			gs = append(gs, r.group)
		}
	}
	return gs
}

func main() {
	count := flag.Int("count", 5, "runs of each benchmark (the median is shown); at least 3")
	out := flag.String("o", "", "also write the report to this file")
	only := flag.String("only", "", "run only these groups, comma-separated: "+strings.Join(groups(), ", "))
	flag.Parse()
	if *count < 3 {
		fmt.Fprintln(os.Stderr, "bench: -count must be at least 3")
		os.Exit(2)
	}
	selected := map[string]bool{}
	for _, g := range strings.Split(*only, ",") {
		if g = strings.TrimSpace(g); g == "" {
			continue
		}
		if !slices.Contains(groups(), g) {
			fmt.Fprintf(os.Stderr, "bench: -only: no group %q; the groups are %s\n", g, strings.Join(groups(), ", "))
			os.Exit(2)
		}
		selected[g] = true
	}
	env := os.Environ()
	if os.Getenv("ONCELINK_TEST_POSTGRES_URL") == "" {
		env = append(env, "ONCELINK_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	}
	if os.Getenv("ONCELINK_TEST_REDIS_URL") == "" {
		env = append(env, "ONCELINK_TEST_REDIS_URL=redis://127.0.0.1:6379/0")
	}
	env = append(env, "ONCELINK_REQUIRE_SERVICES=1")

	started := time.Now()
	samples := map[string]map[string][]float64{}
	for _, r := range runs {
		if len(selected) > 0 && !selected[r.group] {
			continue
		}
		n := cmp.Or(r.count, *count)
		fmt.Fprintf(os.Stderr, "bench: %s %s (%s x%d)\n", r.pkg, r.pattern, r.benchtime, n)
		args := []string{"test", "-run=^$", "-bench=" + r.pattern, "-benchtime=" + r.benchtime, "-count=" + strconv.Itoa(n), "-timeout=30m", r.pkg}
		cmd := exec.Command("go", args...)
		cmd.Env = env
		var buf bytes.Buffer
		cmd.Stdout = &buf
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "bench: go %s: %v\n%s", strings.Join(args, " "), err, buf.String())
			os.Exit(1)
		}
		parse(&buf, r.pkg, samples)
	}
	report := render(samples, rows(), *count, time.Since(started), len(selected) > 0)
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
