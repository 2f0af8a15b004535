"""The runtime: items, moves, rights and history, behind one Engine."""

from smartflow.runtime.engine import Engine

__all__ = ["Engine"]
