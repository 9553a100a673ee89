"""The comparative report: built from result files alone."""
