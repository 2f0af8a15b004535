"""The services layer: the one door every interface (CLI, Python API, HTTP) goes through.

`Engine` opens a database as a user and offers items, views, people and automation as plain
data in and out, with typed errors (smartflow.errors). Deploy, data and analytics services
are the functions of smartflow.deploy.apply, smartflow.data and smartflow.analytics; they take
an Engine where they work on items. `plain` turns a stored value into JSON-ready data, as
every interface shows it.
"""

from smartflow.runtime.fields import plain
from smartflow.services.engine import Engine

__all__ = ["Engine", "plain"]
