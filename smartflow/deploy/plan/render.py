"""Plans as text for people (like `terraform plan`) and JSON for tools."""

from __future__ import annotations

import json

from smartflow.deploy.plan import Plan


def render_text(plan: Plan, allow_data_loss: bool = False) -> str:
    deployed = f"version {plan.deployed_version}" if plan.deployed_version else "nothing deployed yet"
    lines = [f"Plan for {plan.database} (compared with {plan.compared_with}: {deployed})", ""]
    if plan.empty:
        lines.append("No changes: the database matches the definitions.")
        return "\n".join(lines)
    for op in plan.operations:
        lines.append(f"  {op.to_dict()['symbol']} {op.describe()}")
        if op.effect:
            lines.append(f"      {op.effect}")
        if op.impossible:
            lines.append(f"      REFUSED: {op.impossible}")
        elif op.needs_data_loss:
            verdict = "allowed by --allow-data-loss" if allow_data_loss else "REFUSED without --allow-data-loss"
            lines.append(f"      {verdict}: {op.needs_data_loss}")
    counts = {"+": 0, "~": 0, "-": 0}
    for op in plan.changes:
        symbol = op.to_dict()["symbol"]
        if symbol in counts:
            counts[symbol] += 1
    lines += ["", f"Plan: {counts['+']} to add, {counts['~']} to change, {counts['-']} to remove."]
    refused = plan.refused(allow_data_loss)
    if refused:
        lines.append(f"{len(refused)} step(s) refused; apply would change nothing.")
    return "\n".join(lines)


def render_json(plan: Plan, allow_data_loss: bool = False) -> str:
    payload = plan.to_dict()
    payload["refused"] = plan.refused(allow_data_loss)
    return json.dumps(payload, ensure_ascii=False, indent=2, default=str)
