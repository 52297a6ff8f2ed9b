"""Great Expectations suites that gate the optimizer and the order files (no Dagster imports)."""
