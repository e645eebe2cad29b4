"""Integrations: users' credentials for third-party providers, OAuth2, providers' handlers."""
