"""Measuring: the one timing proxy and its histograms, the checks that verify every answer, and the
machine's noise probe."""
