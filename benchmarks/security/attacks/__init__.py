"""The attacks, one module per area; importing this package registers them all (``registry.ATTACKS``)."""

from benchmarks.security.attacks import channels, hostile, shoppers, signing  # noqa: F401 - registration
