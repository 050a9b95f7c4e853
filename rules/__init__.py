"""Pure policy for the VIP sidecar: no I/O, no clock reads.

Everything here takes small frozen dataclasses (see :mod:`rules.model`) and the
current time as arguments and returns a decision.
"""
