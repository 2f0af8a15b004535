"""A process's Bitrix24 entityTypeId from the stable numbers of `sf_numbers`: apply gives them
(smartflow.deploy.numbers), the facade and the event messages read them (here, in one place).

A process that declares its portal's entityTypeId (`bitrix24: {entity_type_id}`), and every process
deployed since entityTypeIds are kept, has a row of kind `entity`; one deployed before has its type
number only, from which its entityTypeId follows as it always did."""

from __future__ import annotations


def default_entity_type_id(number: int) -> int:
    """The entityTypeId of type number `number`: 128–192 as Bitrix24 gives the first smart processes,
    then even ids from 1030."""
    return 127 + number if number <= 65 else 1030 + 2 * (number - 66)


def entity_type_id(numbers: dict[str, dict[str, int]], process: str) -> int | None:
    """A process's entityTypeId from the numbers by kind and key; None before its first apply."""
    kept = numbers.get("entity", {}).get(process)
    if kept is not None:
        return kept
    number = numbers.get("type", {}).get(process)
    return None if number is None else default_entity_type_id(number)
