"""smartflow: declarative CRM smart processes defined in YAML, validated, compiled and run."""

__version__ = "0.1.0"
