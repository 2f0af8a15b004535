"""The Bitrix24 REST facade: `smartflow serve` answers the classic REST API of smart processes
(crm.item.*, crm.type.*, crm.category.list, crm.status.list, batch…) at `/rest/`, so scripts
written for Bitrix24 with fast-bitrix24, b24pysdk or bitrix24-rest keep working.

An interface beside `http/` and `cli/`: every method is a thin handler over smartflow.services.
protocol.py is the wire (PHP parameters, json_encode shapes, errors), portal.py the naming of
processes, fields and values, methods.py the one table of methods, rest.py the HTTP door.
"""

from smartflow.bitrix24.rest import install

__all__ = ["install"]
