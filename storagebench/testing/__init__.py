"""Test support importable by out-of-tree adapters: the conformance suite and engine gating."""
