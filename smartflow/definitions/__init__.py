"""Definitions: YAML files in, a checked model out.

load (YAML → data + source map) → validate (JSON Schema, then one check per semantic rule) →
convert (data ↔ model ↔ YAML) → model (frozen dataclasses). The expression language of
conditions and templates (expressions, sandbox) belongs here too: validation parses it, the
runtime and automation compile it. Imports nothing above it.
"""
