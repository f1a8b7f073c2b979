"""The fault suite (``make faults``): real services, one injected fault at a time, invariants checked afterwards.

``python -m benchmarks.faults`` (``--help`` lists the knobs). See README.md, "Fault suite".
"""
