"""The Loupe server: Starlette app, WebSocket sessions, protocol dispatch and model jobs."""
