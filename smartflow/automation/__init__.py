"""Automation: triggers compiled per deployed version, their actions, delayed jobs and the outbox worker.

The runtime knows nothing of it: it publishes events (created, updated, field changed, stage
left and entered, deleted) to the listener the services layer attaches to a compiled version;
triggers.Automation is that listener. Actions change items through the runtime's own
functions, so types, required fields, transitions, conditions and rights hold for them too.
"""
