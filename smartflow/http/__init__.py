"""The HTTP API (`smartflow serve`): FastAPI routes over the services layer and nothing below it.

Every request acts as the user its credential names (an API token, or a browser session with
its CSRF token), through the same `Engine` methods the CLI calls, so the same rights, rules and
errors hold. `create_app` builds the application; `smartflow serve` runs it under uvicorn.
"""
