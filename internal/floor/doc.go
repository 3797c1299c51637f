// Package floor holds the raw operations oncelink's benchmarks are measured
// against, in the same run: golang-jwt's HS256 sign and parse of a payload
// shaped like an oncelink token, with the random secret and its SHA-256
// hash. oncelink cannot be faster than these by much, and should not be
// slower by more than its targets.
//
// # Security considerations
//
// The floor is for benchmarks only: it signs with a throwaway key and checks
// less than oncelink does.
package floor
