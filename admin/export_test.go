package admin

// SetTimelineEventCap lowers the ledger entries a timeline reads, for a
// test, and returns a function that restores it.
func SetTimelineEventCap(n int) (restore func()) {
	old := timelineEventCap
	timelineEventCap = n
	return func() { timelineEventCap = old }
}
