"""The security suite (``make security``): black-box attacks on the real server, failing on any breach.

An attacker holding one valid channel secret (its own channel, ``s03``) or one shopper account tries what
such an attacker would; ``python -m benchmarks.security`` (``runner.py``) prints a table, writes
``benchmarks/results/security-<UTC timestamp>.json`` and exits 1 on a breach, 0 when every attack held.
"""
