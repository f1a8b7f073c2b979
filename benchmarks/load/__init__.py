"""The load suite (``make load``): the whole purchase flow under locust, at increasing concurrency, then invariants.

``python -m benchmarks.load --help``; the README's "Load suite" says what it measures and checks.
"""
