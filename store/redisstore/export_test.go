package redisstore

import "testing"

// ClusterSeeds starts a Redis Cluster of the test's own (three masters,
// three replicas) for the external tests, and returns its masters'
// addresses.
func ClusterSeeds(t *testing.T) []string {
	tc := startCluster(t, 3, false)
	var out []string
	for _, m := range tc.masters {
		out = append(out, m.addr())
	}
	return out
}
