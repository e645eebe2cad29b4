"""Google Maps text search on the Places API (New): AutoGPT's ``GoogleMapsSearchBlock``.

Invariant: at most ``max_results`` places (≤ 60, Google's own cap), fetched a page of at
most 20 at a time with ``nextPageToken``; the key travels only in ``X-Goog-Api-Key`` to the
Places base URL. ``radius`` is accepted for existing agents and not sent (Google needs a
centre point for it), as on AutoGPT.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import httpx
from pydantic import BaseModel, Field

from autoplat.blocks.base import (
    Block,
    BlockCategory,
    BlockContext,
    BlockOutput,
    BlockOutputSchema,
    BlockSchema,
)
from autoplat.blocks.builtin.integrations._base import (
    Answer,
    CredentialsRefInput,
    ProviderError,
    ProviderUnavailable,
    api_key,
    call,
    credentials_pin,
    mock_credentials_input,
    stand_in,
)
from autoplat.blocks.schema import pin

PROVIDER = "google_maps"
PAGE_SIZE = 20
SEARCH_PATH = "/v1/places:searchText"
#: The fields asked for (Google bills a page by the dearest one).
SEARCH_FIELDS = ",".join(
    [
        "places.id",
        "places.displayName",
        "places.formattedAddress",
        "places.location",
        "places.googleMapsUri",
        "places.nationalPhoneNumber",
        "places.websiteUri",
        "places.rating",
        "places.userRatingCount",
        "nextPageToken",
    ]
)
# Google's error reasons that have a fix the user can make, said in our words.
_HINTS = {
    "API_KEY_INVALID": "Google rejected the Maps API key; check the key in your Google Maps "
    "credentials.",
    "SERVICE_DISABLED": "Places API (New) is not enabled on the Google Cloud project of this "
    "Maps API key; enable it under APIs & Services and try again.",
    "API_KEY_SERVICE_BLOCKED": "This Maps API key may not call Places API (New); add it to the "
    "key's API restrictions in the Google Cloud console.",
}


class Place(BaseModel):
    """One place found (AutoGPT's ``Place``)."""

    name: str
    address: str
    phone: str
    rating: float
    reviews: int
    website: str
    place_id: str = Field(default="", description="Google Maps place ID")
    latitude: float | None = Field(default=None, description="Latitude in degrees")
    longitude: float | None = Field(default=None, description="Longitude in degrees")
    google_maps_url: str = Field(default="", description="Link to the place on Google Maps")


def to_place(place: dict[str, Any]) -> Place:
    """A Places API (New) place as the block's ``Place``."""
    location = place.get("location") or {}
    return Place(
        name=(place.get("displayName") or {}).get("text", ""),
        address=place.get("formattedAddress", ""),
        phone=place.get("nationalPhoneNumber", ""),
        rating=place.get("rating", 0),
        reviews=place.get("userRatingCount", 0),
        website=place.get("websiteUri", ""),
        place_id=place.get("id", ""),
        latitude=location.get("latitude", 0.0) if location else None,
        longitude=location.get("longitude", 0.0) if location else None,
        google_maps_url=place.get("googleMapsUri", ""),
    )


def search_error(answer: Answer) -> str:
    """What a failed Text Search request tells the user."""
    try:
        body = json.loads(answer.content) if answer.content else {}
    except ValueError:
        body = {}
    error = (body.get("error") if isinstance(body, dict) else None) or {}
    for detail in error.get("details") or []:
        hint = _HINTS.get(detail.get("reason", "")) if isinstance(detail, dict) else None
        if hint:
            return hint
    if answer.status == 429:
        return (
            "This Maps API key has run out of Places API (New) quota; try again later or "
            "raise the quota in the Google Cloud console."
        )
    if answer.status >= 500:
        return f"Places API (New) had a temporary problem (HTTP {answer.status}); try again."
    detail_text = error.get("message") or "no details given"
    return f"Places API (New) rejected the search (HTTP {answer.status}): {detail_text}"


_TEST_PLACE = {
    "name": "Test Restaurant",
    "address": "123 Test St, New York, NY 10001",
    "phone": "(555) 123-4567",
    "rating": 4.5,
    "reviews": 100,
    "website": "https://testrestaurant.com",
    "place_id": "ChIJTestRestaurant0123456789",
    "latitude": 40.7505,
    "longitude": -73.9934,
    "google_maps_url": "https://maps.google.com/?cid=1234567890",
}


def _test_answer(request: httpx.Request) -> httpx.Response:
    place = {
        "id": _TEST_PLACE["place_id"],
        "displayName": {"text": _TEST_PLACE["name"]},
        "formattedAddress": _TEST_PLACE["address"],
        "nationalPhoneNumber": _TEST_PLACE["phone"],
        "rating": _TEST_PLACE["rating"],
        "userRatingCount": _TEST_PLACE["reviews"],
        "websiteUri": _TEST_PLACE["website"],
        "location": {"latitude": _TEST_PLACE["latitude"], "longitude": _TEST_PLACE["longitude"]},
        "googleMapsUri": _TEST_PLACE["google_maps_url"],
    }
    return httpx.Response(200, json={"places": [place]})


class GoogleMapsSearchBlock(Block["GoogleMapsSearchBlock.Input"]):
    """Places matching a text query, one ``place`` output each."""

    class Input(BlockSchema):
        credentials: CredentialsRefInput = credentials_pin(PROVIDER, "Google Maps API Key")
        query: str = pin(
            description="Search query for local businesses",
            placeholder="e.g., 'restaurants in New York'",
        )
        radius: Annotated[int, Field(ge=1, le=50000)] = pin(
            5000,
            description="Not used: Google needs a centre point to apply a radius, so name the "
            "area in the query instead. Kept so existing agents still load.",
        )
        max_results: Annotated[int, Field(ge=1, le=60)] = pin(
            20, advanced=False, description="Maximum number of results to return (max 60)"
        )

    class Output(BlockOutputSchema):
        place: Place = pin(description="Place found")

    id = "f47ac10b-58cc-4372-a567-0e02b2c3d479"
    description = (
        "Search Google Maps for businesses and other places that match a text query. Returns "
        "each place's name, address, phone, rating, review count, website, place ID, "
        "coordinates and Google Maps link."
    )
    categories = (BlockCategory.SEARCH,)
    input_schema = Input
    output_schema = Output
    test_input = [
        {
            "credentials": mock_credentials_input(PROVIDER),
            "query": "restaurants in new york",
            "radius": 5000,
            "max_results": 5,
        }
    ]
    test_output = [("place", _TEST_PLACE)]
    test_context = stand_in(_test_answer, PROVIDER, "mock-google-maps-api-key")

    async def run(self, input_data: Input, context: BlockContext) -> BlockOutput:
        key = api_key(context).get_secret_value()
        url = context.settings.provider_url("google_maps") + SEARCH_PATH
        headers = {"X-Goog-Api-Key": key, "X-Goog-FieldMask": SEARCH_FIELDS}
        places: list[Place] = []
        token = ""
        wanted = input_data.max_results
        while len(places) < wanted:
            body: dict[str, Any] = {
                "textQuery": input_data.query,
                "pageSize": min(PAGE_SIZE, wanted - len(places)),
            }
            if token:
                body["pageToken"] = token
            answer = await call(context, "POST", url, headers=headers, json=body)
            if not answer.ok:
                error = search_error(answer)
                raise ProviderUnavailable(error) if answer.status >= 500 else ProviderError(error)
            page = answer.json()
            if not isinstance(page, dict):
                raise ProviderError("Places API (New) answered with no search result")
            places.extend(to_place(p) for p in page.get("places") or [] if isinstance(p, dict))
            token = str(page.get("nextPageToken") or "")
            if not token:
                break
        for place in places[:wanted]:
            # A plain object, as AutoGPT's Place serialises: what links and storage carry.
            yield "place", place.model_dump()
