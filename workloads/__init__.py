"""Workload specifications (declarative YAML here, or YCSB ``.properties`` files) and their generators."""
