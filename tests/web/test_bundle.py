"""The committed bundle: built from today's ui/ sources, small enough, served at "/"."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import httpx

from autoplat.api import webapp
from autoplat.web.sources import HASH_FILE, source_hash

ROOT = Path(__file__).resolve().parents[2]
DIST = ROOT / "src" / "autoplat" / "web" / "dist"
#: The first page's JavaScript, gzipped (the builder is a chunk of its own, loaded later).
FIRST_PAGE_JS_LIMIT = 300 * 1024


def test_bundle_is_built_from_the_current_sources() -> None:
    recorded = (DIST / HASH_FILE).read_text().strip()
    assert recorded == source_hash(ROOT / "ui"), (
        "ui/ changed since the bundle was built: run `make ui` and commit src/autoplat/web/dist"
    )


def test_first_page_javascript_is_small() -> None:
    index = (DIST / "index.html").read_text()
    scripts = re.findall(r'<script[^>]+src="/(assets/[^"]+\.js)"', index)
    preloads = re.findall(r'<link rel="modulepreload"[^>]+href="/(assets/[^"]+\.js)"', index)
    assert scripts, index
    size = sum(len(gzip.compress((DIST / name).read_bytes())) for name in scripts + preloads)
    assert size < FIRST_PAGE_JS_LIMIT, f"first page loads {size} bytes of gzipped JavaScript"
    builder = [p.name for p in (DIST / "assets").glob("Builder-*.js")]
    assert builder and all(name not in index for name in builder), "the builder must be lazy"


async def test_the_app_is_served_beside_the_api(autoplat_client: httpx.AsyncClient) -> None:
    page = await autoplat_client.get("/library")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    script = re.search(r'src="(/assets/[^"]+\.js)"', page.text)
    assert script is not None
    asset = await autoplat_client.get(script.group(1), headers={"Accept-Encoding": "gzip"})
    assert asset.status_code == 200
    assert asset.headers["content-type"].startswith("text/javascript")
    assert "immutable" in asset.headers["cache-control"]
    assert asset.headers.get("content-encoding") == "gzip"
    assert (await autoplat_client.get("/build/some-graph")).status_code == 200
    for page_path in ("/credentials", "/reviews", "/auth/integrations/oauth_callback?code=c"):
        answer = await autoplat_client.get(page_path)
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
    # The API keeps its own answers.
    assert (await autoplat_client.get("/api/nothing-here")).json()["error"]["code"] == "not_found"
    assert (await autoplat_client.get("/health")).status_code == 200
    assert (await autoplat_client.get("/docs")).status_code == 200
    assert (await autoplat_client.get("/assets/missing.js")).status_code == 404
    assert (await autoplat_client.get("/ws/x")).status_code == 404
    assert (await autoplat_client.get("/etc/passwd")).status_code == 404
    refused = await autoplat_client.post("/health")
    assert refused.status_code == 405 and refused.headers["allow"] == "GET, HEAD"
    assert (await autoplat_client.post("/library", json={})).status_code == 404


def test_the_bundle_is_in_the_package() -> None:
    files = webapp._files()
    assert "index.html" in files and any(name.startswith("assets/") for name in files)
