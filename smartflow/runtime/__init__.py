"""The runtime: items, fields, queries, rights, rules and people on one deployed version.

It imports nothing from automation or the services above it; changes are published as
events to the listener a compiled version carries (see items.publish).
"""
