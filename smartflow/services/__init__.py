"""The services layer: the one door every interface (CLI, Python API, HTTP) goes through.

`Engine` opens a database as a user and offers items, views, people and automation as plain
data in and out, with typed errors (smartflow.errors): items, views, people, automation,
export, import and report. `services.deploy` validates, plans, applies and rolls back
definitions; `services.analytics` draws graphs and renders reports; `services.data` holds the
options and results of exports and imports. `plain` turns a stored value into JSON-ready data,
as every interface shows it; `Text` is a title in several languages.
"""

from smartflow.definitions.model import Text
from smartflow.runtime.fields import plain
from smartflow.services.engine import Engine

__all__ = ["Engine", "Text", "plain"]
