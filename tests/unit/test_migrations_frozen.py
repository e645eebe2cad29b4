"""Released migrations never change: a database already at a revision never runs it again."""

from __future__ import annotations

import hashlib

from autoplat.db.migrate import MIGRATIONS

# The scripts inside the package: the ones an installed wheel runs.
VERSIONS = MIGRATIONS / "versions"

#: sha256 of every released migration; a schema change is a NEW revision (add its hash here).
RELEASED = {
    "0001_initial_schema.py": ("1db278e9b327d45f0eb4d00fc6dcb28c2fee3e04eb85dab540e3c0008af85a83"),
    "0002_workers.py": ("31afafb8f97f5c3547e0fd7b15e0fa97020153bcbf4af73680f6d394c464a2d7"),
    "0003_credentials.py": ("330fb447dcccee8906a30a869ab89664c70f823c1912dd73a31a7e87cf81a874"),
    "0004_run_credentials.py": ("03644a9a69df9eeb373d8891070328d09ee85eb0ab0faff16c7cedc45c62dbd7"),
    "0005_kv_and_files.py": ("9d88c147eada0a848796e56502d464d926900f6cdca9a32482a916f4c8d1e83e"),
    "0006_pending_reviews.py": ("512ec16f3db2fc2cc13bb90f793b54517f91a0b178ee30682267fde1a55b619f"),
    "0007_notifications_presets_shares.py": (
        "5c96ea25a307384cb13b7e065bc70d765ba3db40eb5383e6e50dca7a56c4bdf1"
    ),
    "0008_schedule_presets_graph_settings.py": (
        "a278372634e39cc456aad6a001de1300508371737d6bcf8e45413b8d98a15bc7"
    ),
    "0009_schedule_credentials.py": (
        "07804ce023c83d5853896f3068396a948754777bcba78731aee4a5b890483952"
    ),
}


def test_released_migrations_are_never_edited() -> None:
    changed = [
        name
        for name, digest in RELEASED.items()
        if hashlib.sha256((VERSIONS / name).read_bytes()).hexdigest() != digest
    ]
    assert changed == [], "write a new alembic revision instead of editing a released one"


def test_every_migration_is_recorded_as_released() -> None:
    present = {p.name for p in VERSIONS.glob("*.py")}
    assert present == set(RELEASED)
