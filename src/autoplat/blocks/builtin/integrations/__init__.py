"""Integration blocks: AutoGPT's blocks that call a provider's API with the user's credentials.

One module per provider; each block keeps AutoGPT's id, name, pins, defaults, output order
and errors, and reaches its provider only at the operator-controlled base URL
(``BlockSettings.provider_url``) through the run's vetted client (see ``_base``).
"""
