"""Analysis: statistics over repeats (medians, order-statistic intervals, ties, steady state)."""
