"""The command line: one module per command group; main.py lists the commands and imports a
command's module only when that command runs.

Each command parses its options, makes one service call and renders the result; exit codes
are decided here only (main.py). Heavy modules are imported inside the commands, so
`smartflow --help` stays instant.
"""
