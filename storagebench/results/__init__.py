"""Results: result files (atomic, versioned), run manifests, merging hosts, run health and clean-up."""
