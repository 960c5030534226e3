"""Benchmark harness: case catalog, subprocess runner, statistics, goals, report and chart."""
