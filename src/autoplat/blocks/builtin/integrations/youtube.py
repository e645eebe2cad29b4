"""YouTube transcripts: AutoGPT's ``TranscribeYoutubeVideoBlock``.

Invariants: the video id comes only from youtube.com / youtu.be URL shapes AutoGPT accepts
(anything else is "Invalid YouTube URL"); every request goes to the YouTube base URL
(``BlockSettings.provider_url("youtube")``) through the run's vetted client. The caption
track a player answer names is fetched by its path and query on that same base URL, so an
answer cannot send the block elsewhere. The transcript is read the way the
``youtube_transcript_api`` library AutoGPT uses reads it (the watch page's Innertube key,
the player endpoint as the Android client, the timedtext XML; English first, else the first
manually created, else the first generated track) and joined one line per caption, as its
``TextFormatter`` does.

Unlike AutoGPT, requests go direct rather than through a Webshare rotating proxy (AutoGPT's
cloud addresses are blocked by YouTube; a self-hosted platform's usually are not), so the
``credentials`` pin is declared as AutoGPT declares it but may be left empty.
"""

from __future__ import annotations

import dataclasses
import html
import re
import urllib.parse
from typing import Any

import httpx

from autoplat.blocks.base import (
    Block,
    BlockCategory,
    BlockContext,
    BlockOutput,
    BlockOutputSchema,
    BlockSchema,
)
from autoplat.blocks.builtin.integrations._base import (
    TEST_CREDENTIALS_ID,
    CredentialsRefInput,
    ProviderError,
    call,
    raise_for_status,
)
from autoplat.blocks.schema import pin

PROVIDER = "webshare_proxy"
_KEY = re.compile(r'"INNERTUBE_API_KEY":\s*"([a-zA-Z0-9_-]+)"')
_CAPTION = re.compile(r"<text\b[^>]*>(.*?)</text>", re.DOTALL)
_TAG = re.compile(r"<[^>]*>")
#: The client the transcript library presents to the player endpoint.
_CLIENT = {"clientName": "ANDROID", "clientVersion": "20.10.38"}
_NO_CAPTIONS = "Subtitles are disabled for this video"


def extract_video_id(url: str) -> str:
    """The video id of a youtube.com watch/embed/v/shorts URL or a youtu.be link."""
    parsed = urllib.parse.urlparse(url)
    if parsed.netloc == "youtu.be":
        return parsed.path[1:]
    if parsed.netloc in ("www.youtube.com", "youtube.com"):
        if parsed.path == "/watch":
            ids = urllib.parse.parse_qs(parsed.query).get("v")
            if ids:
                return ids[0]
        for prefix in ("/embed/", "/v/", "/shorts/"):
            if parsed.path.startswith(prefix):
                return parsed.path.split("/")[2]
    raise ProviderError(f"Invalid YouTube URL: {url}")


def _failure(video_id: str, reason: str) -> ProviderError:
    return ProviderError(
        f"Could not retrieve a transcript for the video "
        f"https://www.youtube.com/watch?v={video_id}: {reason}"
    )


def pick_track(tracks: list[dict[str, Any]]) -> dict[str, Any] | None:
    """English (manual before generated), else the first manual, else the first generated."""
    manual = [t for t in tracks if t.get("kind") != "asr"]
    generated = [t for t in tracks if t.get("kind") == "asr"]
    for group in (manual, generated):
        for track in group:
            if track.get("languageCode") == "en":
                return track
    ordered = manual + generated
    return ordered[0] if ordered else None


def captions_text(xml: str) -> str:
    """The timedtext document's captions, one line each (markup removed, entities decoded)."""
    # The XML's own escaping, then the HTML inside it (as the library reads it), then tags.
    raw = (html.unescape(html.unescape(m.group(1))) for m in _CAPTION.finditer(xml))
    lines = (_TAG.sub("", text) for text in raw)
    return "\n".join(line for line in lines if line)


async def fetch_transcript(context: BlockContext, video_id: str) -> str:
    """The video's transcript text, fetched from YouTube (see the module docstring)."""
    base = context.settings.provider_url("youtube")
    headers = {"Accept-Language": "en-US"}
    page = await call(context, "GET", f"{base}/watch", headers=headers, params={"v": video_id})
    raise_for_status(page, "YouTube did not serve the video page")
    found = _KEY.search(page.text())
    if found is None:
        raise _failure(video_id, "YouTube answered without the player's key (a bot check?)")
    player = await call(
        context,
        "POST",
        f"{base}/youtubei/v1/player",
        headers=headers,
        params={"key": found.group(1)},
        json={"context": {"client": _CLIENT}, "videoId": video_id},
    )
    raise_for_status(player, "YouTube refused the player request")
    answer = player.json()
    status = (answer.get("playabilityStatus") or {}) if isinstance(answer, dict) else {}
    if status.get("status") not in (None, "OK"):
        raise _failure(video_id, str(status.get("reason") or "The video is unavailable"))
    renderer = (answer.get("captions") or {}).get("playerCaptionsTracklistRenderer") or {}
    tracks = [t for t in renderer.get("captionTracks") or [] if isinstance(t, dict)]
    track = pick_track(tracks)
    if track is None or not track.get("baseUrl"):
        raise _failure(video_id, _NO_CAPTIONS)
    # Only the path and query of the track's URL: it is read from YouTube's base URL.
    target = urllib.parse.urlsplit(str(track["baseUrl"]).replace("&fmt=srv3", ""))
    url = f"{base}{target.path}" + (f"?{target.query}" if target.query else "")
    xml = await call(context, "GET", url, headers=headers)
    raise_for_status(xml, "YouTube did not serve the transcript")
    return captions_text(xml.text())


def _test_answer(request: httpx.Request) -> httpx.Response:
    path = request.url.path
    if path == "/watch":
        return httpx.Response(200, text='<script>{"INNERTUBE_API_KEY": "test-key"}</script>')
    if path == "/youtubei/v1/player":
        track = {"baseUrl": "https://www.youtube.com/api/timedtext?v=x", "languageCode": "en"}
        captions = {"playerCaptionsTracklistRenderer": {"captionTracks": [track]}}
        return httpx.Response(
            200, json={"playabilityStatus": {"status": "OK"}, "captions": captions}
        )
    body = (
        '<?xml version="1.0" encoding="utf-8" ?><transcript>'
        '<text start="0" dur="2">Never gonna give you up</text>'
        '<text start="2" dur="2">Never gonna let you down</text></transcript>'
    )
    return httpx.Response(200, text=body)


class TranscribeYoutubeVideoBlock(Block["TranscribeYoutubeVideoBlock.Input"]):
    """The video id of a YouTube URL, then the video's transcript."""

    class Input(BlockSchema):
        youtube_url: str = pin(
            title="YouTube URL",
            description="The URL of the YouTube video to transcribe",
            placeholder="https://www.youtube.com/watch?v=dQw4w9WgXcQ",
        )
        credentials: CredentialsRefInput | None = pin(
            None,
            advanced=False,
            title="Credentials",
            description="Webshare proxy credentials for fetching YouTube transcripts (not "
            "needed here: requests go direct)",
            credentials_provider=[PROVIDER],
            credentials_types=["user_password"],
        )

    class Output(BlockOutputSchema):
        video_id: str = pin(description="The extracted YouTube video ID")
        transcript: str = pin(description="The transcribed text of the video")
        error: str = pin("", description="Any error message if the transcription fails")

    id = "f3a8f7e1-4b1d-4e5f-9f2a-7c3d5a2e6b4c"
    description = "Transcribes a YouTube video using a proxy."
    categories = (BlockCategory.MULTIMEDIA,)
    input_schema = Input
    output_schema = Output
    test_input = [
        {
            "youtube_url": "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
            "credentials": {
                "provider": PROVIDER,
                "id": TEST_CREDENTIALS_ID,
                "type": "user_password",
                "title": "Mock Webshare Proxy credentials",
            },
        }
    ]
    test_output = [
        ("video_id", "dQw4w9WgXcQ"),
        ("transcript", "Never gonna give you up\nNever gonna let you down"),
    ]

    def test_context(self, context: BlockContext) -> BlockContext:
        """The offline YouTube of the vectors (AutoGPT mocks the transcript call)."""
        client = httpx.AsyncClient(transport=httpx.MockTransport(_test_answer))
        return dataclasses.replace(context, http=client)

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        video_id = extract_video_id(input_data.youtube_url)
        yield "video_id", video_id
        yield "transcript", await fetch_transcript(context, video_id)
