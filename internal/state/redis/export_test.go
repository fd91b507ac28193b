package redis

// PipelineStats returns the number of round trips the pipeliner made and
// the number of commands it sent in them.
func (s *Store) PipelineStats() (batches, commands int64) {
	return s.p.batches.Load(), s.p.sent.Load()
}
