"""Benchmark cases: one small module per measurement, each run in a fresh subprocess."""
