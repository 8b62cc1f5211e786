"""Results: the versioned record, the archive per release, compare and report."""
