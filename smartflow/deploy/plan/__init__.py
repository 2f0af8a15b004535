"""A plan: the operations that turn the deployed definition into the desired one."""

from __future__ import annotations

from dataclasses import field
from typing import Any

from smartflow.deploy.plan.ops import Op, RecordVersion
from smartflow.records import record


@record
class Plan:
    """What `apply` would do, with the numbers `plan` shows; the same list apply executes."""

    database: str
    operations: list[Op] = field(default_factory=list)
    deployed_version: int | None = None
    desired_hash: str = ""
    compared_with: str = "the live database"

    @property
    def changes(self) -> list[Op]:
        return [op for op in self.operations if not isinstance(op, RecordVersion)]

    @property
    def empty(self) -> bool:
        return not self.changes

    def refused(self, allow_data_loss: bool) -> list[str]:
        """Why apply must not run: impossible steps always, lossy ones unless allowed."""
        reasons = [op.impossible for op in self.changes if op.impossible]
        if not allow_data_loss:
            reasons += [op.needs_data_loss for op in self.changes if op.needs_data_loss]
        return reasons

    def to_dict(self) -> dict[str, Any]:
        return {
            "database": self.database,
            "compared_with": self.compared_with,
            "deployed_version": self.deployed_version,
            "hash": self.desired_hash,
            "changes": len(self.changes),
            "operations": [op.to_dict() for op in self.operations],
        }
