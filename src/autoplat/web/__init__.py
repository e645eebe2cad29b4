"""The web app: its built bundle (``dist/``, made by ``make ui`` from ``ui/``)."""
