"""smartflow: declarative CRM smart processes defined in YAML, validated, compiled and run."""

__version__ = "0.2.0"

__all__ = ["Engine", "__version__"]


def __getattr__(name: str) -> object:
    # Engine pulls in SQLAlchemy; import it on first use so `smartflow --help` stays instant.
    if name == "Engine":
        from smartflow.services.engine import Engine

        return Engine
    raise AttributeError(f"module 'smartflow' has no attribute {name!r}")
