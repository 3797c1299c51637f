package redisstore

import (
	"context"

	goredis "github.com/redis/go-redis/v9"
)

// call is one script call.
type call struct {
	keys []string
	args []interface{}
}

type result struct {
	val interface{}
	err error
}

// pipeDepth bounds the script calls of one pipeline: go-redis applies its
// ReadTimeout to reading a pipeline's replies as a whole, so a pipeline must
// finish well within it (8 insert chunks are 8000 records).
const pipeDepth = 8

// run pipelines calls of one script with EVALSHA, at most [pipeDepth] a
// round trip, and runs again with EVAL any call that found the script
// missing (a restarted or flushed server).
func (s *Store) run(ctx context.Context, sc *goredis.Script, calls []call) []result {
	out := make([]result, len(calls))
	if len(calls) == 1 {
		out[0].val, out[0].err = sc.Run(ctx, s.c, calls[0].keys, calls[0].args...).Result()
		return out
	}
	for lo := 0; lo < len(calls); lo += pipeDepth {
		hi := min(lo+pipeDepth, len(calls))
		pipe := s.c.Pipeline()
		cmds := make([]*goredis.Cmd, hi-lo)
		for i := lo; i < hi; i++ {
			cmds[i-lo] = sc.EvalSha(ctx, pipe, calls[i].keys, calls[i].args...)
		}
		_, _ = pipe.Exec(ctx) // errors are read per command
		for i, cmd := range cmds {
			r := &out[lo+i]
			r.val, r.err = cmd.Result()
			if r.err != nil && goredis.HasErrorPrefix(r.err, "NOSCRIPT") {
				r.val, r.err = sc.Run(ctx, s.c, calls[lo+i].keys, calls[lo+i].args...).Result()
			}
		}
	}
	return out
}
