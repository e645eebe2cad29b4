"""Notifications to users: recorded in-app, pushed on the WebSocket, e-mailed through SMTP.

Invariant: one event makes at most one notification (dedupe keys), and one e-mail row is
sent at most once (claimed by one process, never resent once its outcome is unknown).
"""
