"""Compile the model: SQL tables (SQLAlchemy MetaData, no engine) and state machines."""
