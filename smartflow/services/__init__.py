"""The services layer: the one door every interface (CLI, Python API, HTTP) goes through.

`Engine` opens a database as a user and offers items, views, people and automation as plain
data in and out, with typed errors (smartflow.errors): items, views, people, automation,
export, import and report. `services.deploy` validates, plans, applies and rolls back
definitions; `services.analytics` draws graphs and renders reports; `services.data` holds the
options and results of exports and imports. `plain` turns a stored value into JSON-ready data,
as every interface shows it; `Text` is a title in several languages; `CURRENCIES` the ISO 4217 codes a money value may
have, `DEFAULT_CURRENCY` the one of a money field that declares none; `MAX_ID` is the largest id an item,
a user or a file may have, and `text_problem` says why a text cannot be stored (interfaces refuse such
input before asking); `entity_type_id` is a process's Bitrix24 entityTypeId (from `Engine.numbers()`) as the
facade and event messages give it; `mail_settings` is how the worker sends e-mail, as its environment
configures it, and `server_connections` how many database connections each `smartflow serve` process
keeps. `grid` lays rows out as a plain-text table under their headers.
"""

from typing import Any

from smartflow.compile.numbers import entity_type_id
from smartflow.definitions.model import Text
from smartflow.definitions.values import CURRENCIES
from smartflow.grid import grid
from smartflow.runtime.fields import DEFAULT_CURRENCY, MAX_ID, plain, text_problem
from smartflow.services.engine import Engine

__all__ = ["CURRENCIES", "DEFAULT_CURRENCY", "MAX_ID", "Engine", "Text", "entity_type_id", "grid", "mail_settings",
           "plain", "server_connections", "text_problem"]


def mail_settings() -> Any:
    """The worker's SMTP settings from the environment (automation.mail.Settings), None when e-mail is not
    configured; InvalidValue naming the variable that is wrong."""
    from smartflow.automation import mail

    return mail.settings()


def server_connections() -> int:
    """The database connections each server process keeps open (SMARTFLOW_DB_CONNECTIONS, default 15);
    InvalidValue naming the variable when it is not a positive whole number."""
    from smartflow.db import server_connections as configured
    from smartflow.errors import InvalidValue

    try:
        return configured()
    except ValueError as wrong:
        raise InvalidValue(str(wrong)) from None
