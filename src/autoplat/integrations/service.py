"""CredentialsService: users' credentials stored encrypted, resolved for the blocks that use them.

Invariants:

- Everything is scoped to a user: another user's credential id behaves exactly like an id
  that does not exist (same error, same message), in every method.
- Secrets leave this service only as ``Credentials`` models (``SecretStr`` fields) handed to
  the executor for one block run; listings and responses are ``CredentialsMeta``, built
  without decrypting anything. Messages name ids and providers, never values.
- System credentials (the operator's keys) are listed to every user and usable by every
  user's runs, but never changed, deleted or shown.
- OAuth2 tokens that expire within five minutes are refreshed before use, once at a time
  for all processes: a process must win the row's refresh lease (one conditional UPDATE)
  to call the provider; the others wait for the new tokens to land (``refresh.py``).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx

from autoplat.blocks.base import Block
from autoplat.config import Settings
from autoplat.db.credentials import CredentialRow
from autoplat.db.manager import DatabaseManager
from autoplat.db.types import utcnow
from autoplat.errors import (
    CredentialsNotFound,
    OAuthError,
    SystemCredentialsReadOnly,
    ValidationFailed,
)
from autoplat.graphs.model import Graph
from autoplat.integrations import codec
from autoplat.integrations.crypto import SecretBox, load_secret_box
from autoplat.integrations.fields import (
    CredentialsField,
    credentials_fields,
    graph_nodes,
    linked_pins,
    node_credentials_map,
    parse_ref,
)
from autoplat.integrations.model import (
    Credentials,
    CredentialsMeta,
    CredentialsRef,
    CredentialsType,
    OAuth2Credentials,
)
from autoplat.integrations.providers import ProviderRegistry
from autoplat.integrations.refresh import TokenRefresher
from autoplat.logging import get_logger

log = get_logger("autoplat.integrations")

#: How long a started OAuth2 login may take (AutoGPT's ten minutes).
LOGIN_STATE_SECONDS = 600
#: Timeout of every call to a provider's OAuth endpoints.
PROVIDER_TIMEOUT_SECONDS = 15.0

Detail = dict[str, Any]


@dataclass(frozen=True)
class LoginStart:
    """Where to send the user, and the state token the provider will hand back."""

    login_url: str
    state_token: str


def _state_hash(state: str) -> str:
    return hashlib.sha256(state.encode("utf-8")).hexdigest()


class CredentialsService:
    """Create, list, get, delete and resolve users' credentials; OAuth2 logins; key rotation."""

    def __init__(
        self,
        settings: Settings,
        db: DatabaseManager,
        blocks: Any = None,
        *,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        #: The block registry (anything with ``get(block_id)`` and iteration), for graphs.
        self.blocks = blocks
        self._http = http or httpx.AsyncClient(timeout=PROVIDER_TIMEOUT_SECONDS)
        self._owns_http = http is None
        self.providers = ProviderRegistry(settings, self._http, list(blocks or ()))
        self._box: SecretBox | None = None
        self._refresher = TokenRefresher(db, self.providers, lambda: self.box, self._decrypt)

    # --- lifecycle ----------------------------------------------------------------------

    def load_keys(self) -> None:
        """Read (or, in local mode, generate) the encryption keys; ConfigError if missing."""
        self._box = load_secret_box(self.settings)

    @property
    def box(self) -> SecretBox:
        """The encryption keys (loaded on first use when :meth:`load_keys` was not called)."""
        if self._box is None:
            self.load_keys()
        assert self._box is not None
        return self._box

    async def aclose(self) -> None:
        """Close the HTTP client used for the providers' OAuth endpoints."""
        if self._owns_http:
            await self._http.aclose()

    # --- create, list, get, delete ------------------------------------------------------

    async def create(self, user_id: str, credentials: Credentials) -> CredentialsMeta:
        """Store ``credentials`` for the user under a new id; its provider must be known."""
        spec = self.providers.require(credentials.provider)
        if credentials.type not in spec.types:
            allowed = ", ".join(t.value for t in spec.types)
            raise ValidationFailed(
                f"provider {spec.name!r} takes {allowed} credentials, not {credentials.type.value}",
                details=[{"field": "body.type", "message": f"expected one of: {allowed}"}],
            )
        secret, meta = codec.split(credentials)
        row = await self.db.credentials.create(
            user_id=user_id,
            provider=credentials.provider,
            type=credentials.type.value,
            title=credentials.title,
            secret=self.box.encrypt_json(secret),
            meta=meta,
        )
        log.info(
            "credentials.created",
            user_id=user_id,
            credentials_id=row.id,
            provider=row.provider,
            type=row.type,
        )
        return self._meta(row)

    async def list_meta(
        self, user_id: str, *, provider: str | None = None
    ) -> list[CredentialsMeta]:
        """Every credential the user may use (system ones first), without secrets."""
        items: list[CredentialsMeta] = []
        offset = 0
        while True:
            page, total = await self.page_meta(user_id, provider=provider, offset=offset, limit=250)
            items.extend(page)
            offset += len(page)
            if not page or offset >= total:
                return items

    async def page_meta(
        self, user_id: str, *, provider: str | None = None, offset: int = 0, limit: int = 50
    ) -> tuple[list[CredentialsMeta], int]:
        """One page of :meth:`list_meta` and the total count."""
        system = [
            codec.meta_of_credentials(c)
            for c in self.providers.system_credentials()
            if provider is None or c.provider == provider
        ]
        shown = system[offset : offset + limit]
        rows, stored = await self.db.credentials.list_for_user(
            user_id,
            provider=provider,
            offset=max(0, offset - len(system)),
            limit=limit - len(shown),
        )
        return [*shown, *(self._meta(r) for r in rows)], len(system) + stored

    async def get(
        self, user_id: str, credentials_id: str, *, provider: str | None = None
    ) -> CredentialsMeta:
        """The credential's metadata; CredentialsNotFound for missing, foreign or mismatched."""
        system = self.providers.system_credential(credentials_id)
        if system is not None and provider in (None, system.provider):
            return codec.meta_of_credentials(system)
        row = await self.db.credentials.get(user_id, credentials_id)
        if row is None or (provider is not None and row.provider != provider):
            raise _not_found(credentials_id)
        return self._meta(row)

    async def delete(
        self, user_id: str, credentials_id: str, *, provider: str | None = None
    ) -> bool | None:
        """Delete the user's credential; for OAuth2, whether the provider revoked the tokens."""
        if self.providers.is_system_id(credentials_id):
            raise SystemCredentialsReadOnly("platform credentials cannot be deleted")
        row = await self.db.credentials.get(user_id, credentials_id)
        if row is None or (provider is not None and row.provider != provider):
            raise _not_found(credentials_id)
        removed = await self.db.credentials.delete(user_id, credentials_id)
        if removed is None:
            raise _not_found(credentials_id)
        log.info("credentials.deleted", user_id=user_id, credentials_id=credentials_id)
        if removed.type != CredentialsType.OAUTH2.value:
            return None
        handler = self.providers.oauth_handler_if_configured(removed.provider)
        if handler is None:
            return False
        credentials = self._decrypt(removed)
        assert isinstance(credentials, OAuth2Credentials)
        return await handler.revoke(credentials)

    # --- use ----------------------------------------------------------------------------

    async def resolve(
        self, user_id: str, ref_or_id: CredentialsRef | Mapping[str, Any] | str
    ) -> Credentials:
        """The decrypted credential (OAuth2 tokens refreshed when about to expire)."""
        if isinstance(ref_or_id, str):
            credentials_id = ref_or_id
        else:
            ref = parse_ref(ref_or_id)
            if ref is None:
                raise CredentialsNotFound("not a credentials reference")
            credentials_id = ref.id
        system = self.providers.system_credential(credentials_id)
        if system is not None:
            return system
        row = await self.db.credentials.get(user_id, credentials_id)
        if row is None:
            raise _not_found(credentials_id)
        credentials = self._decrypt(row)
        if isinstance(credentials, OAuth2Credentials):
            return await self._refresher.fresh(user_id, row, credentials)
        return credentials

    async def for_node(
        self,
        user_id: str,
        block: Block[Any],
        record: Mapping[str, Any],
        *,
        node_id: str = "",
        optional: bool = False,
    ) -> dict[str, Credentials]:
        """Every credentials input of ``block`` in ``record``, resolved: field -> credential.

        A required field that is empty (unless ``optional``: the node's
        ``credentials_optional``), a reference that is not one, an unknown or foreign id,
        or a credential of a provider/type the field does not take is a ValidationFailed
        (422) whose details name the node and the field.
        """
        found: dict[str, Credentials] = {}
        problems: list[Detail] = []
        for spec in credentials_fields(block):
            value = record.get(spec.name)
            if _empty(value):
                if spec.required and not optional:
                    problems.append(
                        _detail(node_id, block.id, spec.name, "credentials are required")
                    )
                continue
            ref = parse_ref(value)
            problem = (
                "is not a credentials reference (id, provider, type)"
                if ref is None
                else await self._problem(user_id, ref, spec, record)
            )
            if problem is not None or ref is None:
                problems.append(_detail(node_id, block.id, spec.name, problem or ""))
                continue
            found[spec.name] = await self.resolve(user_id, ref.id)
        if problems:
            raise _invalid(problems)
        return found

    def node_credentials_map(
        self, graph: Graph, credentials_inputs: Mapping[str, Any]
    ) -> dict[str, dict[str, Any]]:
        """node id -> {field -> reference} from a run's ``credentials_inputs`` (see fields)."""
        return node_credentials_map(graph, credentials_inputs, self.blocks)

    async def check_graph(
        self, user_id: str, graph: Graph, credentials_inputs: Mapping[str, Any]
    ) -> None:
        """Before a run: every credentials input of every node (sub-graphs too) is usable.

        Raises ValidationFailed (422) naming each node and field otherwise. Nothing is
        decrypted and no token is refreshed here.
        """
        problems: list[Detail] = []
        for key, value in sorted(credentials_inputs.items()):
            if parse_ref(value) is None:
                problems.append(
                    {**_detail("", "", key, "is not a credentials reference"), "graph_id": graph.id}
                )
        masks = self.node_credentials_map(graph, credentials_inputs)
        linked = linked_pins(graph)
        for owner, node in graph_nodes(graph):
            block = self.blocks.get(node.block_id) if self.blocks is not None else None
            if block is None:
                continue
            optional = bool(node.metadata.get("credentials_optional"))
            for spec in credentials_fields(block):
                value = masks.get(node.id, {}).get(spec.name, node.input_default.get(spec.name))
                problem: str | None = None
                if _empty(value):
                    if spec.required and not optional and (node.id, spec.name) not in linked:
                        problem = "credentials are required"
                else:
                    ref = parse_ref(value)
                    problem = (
                        "is not a credentials reference (id, provider, type)"
                        if ref is None
                        else await self._problem(user_id, ref, spec, node.input_default)
                    )
                if problem is not None:
                    problems.append(
                        {
                            **_detail(node.id, node.block_id, spec.name, problem),
                            "graph_id": owner.id,
                        }
                    )
        if problems:
            raise _invalid(problems)

    # --- OAuth2 logins ------------------------------------------------------------------

    async def start_login(
        self, user_id: str, provider: str, scopes: list[str], redirect_uri: str
    ) -> LoginStart:
        """A state token (stored with a PKCE verifier for ten minutes) and the login URL."""
        handler = self.providers.oauth_handler(provider)
        wanted = handler.scopes_for(scopes)
        state = secrets.token_urlsafe(32)
        verifier = secrets.token_urlsafe(64)
        digest = hashlib.sha256(verifier.encode("ascii")).digest()
        challenge = base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")
        await self.db.credentials.add_state(
            state_hash=_state_hash(state),
            user_id=user_id,
            provider=provider,
            code_verifier=self.box.encrypt(verifier.encode("ascii")),
            scopes=wanted,
            expires_at=utcnow() + timedelta(seconds=LOGIN_STATE_SECONDS),
        )
        return LoginStart(handler.login_url(wanted, state, challenge, redirect_uri), state)

    async def finish_login(
        self,
        user_id: str,
        provider: str,
        *,
        code: str,
        state_token: str,
        redirect_uri: str,
        title: str | None = None,
    ) -> CredentialsMeta:
        """Check and consume the state, exchange the code, store the tokens."""
        handler = self.providers.oauth_handler(provider)
        state = await self.db.credentials.take_state(user_id, _state_hash(state_token), provider)
        if state is None:
            raise OAuthError("invalid or expired state token")
        verifier = self.box.decrypt(state.code_verifier).decode("ascii")
        credentials = await handler.exchange_code(code, state.scopes, verifier, redirect_uri)
        missing = sorted(set(state.scopes) - set(credentials.scopes))
        if missing:
            # The user may grant less than asked; blocks that need more say so at run time.
            log.warning("oauth.scopes_narrowed", provider=provider, missing=missing)
        meta = await self.create(user_id, credentials.model_copy(update={"title": title}))
        log.info("oauth.logged_in", user_id=user_id, provider=provider, credentials_id=meta.id)
        return meta

    # --- key rotation -------------------------------------------------------------------

    async def rotate_keys(self) -> int:
        """Re-encrypt every stored secret under the first key; how many rows changed."""
        changed = 0
        async for row in self.db.credentials.all_rows():
            if self.box.is_current(row.secret):
                continue
            rotated = self.box.rotate(row.secret)
            if await self.db.credentials.replace_secret(
                row.id, read_version=row.version, secret=rotated, meta=row.meta
            ):
                changed += 1
        log.info("credentials.rotated", rows=changed)
        return changed

    # --- helpers ------------------------------------------------------------------------

    def _decrypt(self, row: CredentialRow) -> Credentials:
        return codec.join(
            id=row.id,
            provider=row.provider,
            type=row.type,
            title=row.title,
            secret=self.box.decrypt_json(row.secret),
            meta=row.meta,
        )

    @staticmethod
    def _meta(row: CredentialRow) -> CredentialsMeta:
        return codec.meta_of(
            id=row.id, provider=row.provider, type=row.type, title=row.title, meta=row.meta
        )

    async def _problem(
        self,
        user_id: str,
        ref: CredentialsRef,
        spec: CredentialsField,
        inputs: Mapping[str, Any],
    ) -> str | None:
        """Why ``ref`` cannot fill ``spec`` for this user (None when it can)."""
        system = self.providers.system_credential(ref.id)
        if system is not None:
            provider, kind, scopes = system.provider, system.type.value, list[str]()
        else:
            row = await self.db.credentials.get(user_id, ref.id)
            if row is None:
                return f"credentials {ref.id} not found"
            provider, kind = row.provider, row.type
            scopes = list(row.meta.get("scopes") or [])
        if (ref.provider and ref.provider != provider) or ref.type.value != kind:
            return (
                f"credentials {ref.id} are {provider}/{kind}, not {ref.provider}/{ref.type.value}"
            )
        if not spec.accepts(provider, kind, inputs):
            wanted = "/".join(spec.providers_for(inputs)) or "any provider"
            return f"credentials {ref.id} ({provider}, {kind}) do not fit: expected {wanted}"
        missing = sorted(set(spec.scopes) - set(scopes)) if kind == "oauth2" else []
        if missing:
            return f"credentials {ref.id} lack the scopes {', '.join(missing)}"
        return None


def _empty(value: Any) -> bool:
    return value is None or value == "" or (isinstance(value, Mapping) and not value)


def _detail(node_id: str, block_id: str, pin: str, message: str) -> Detail:
    return {
        "node_id": node_id or None,
        "block_id": block_id or None,
        "pin": pin,
        "message": message,
    }


def _invalid(problems: list[Detail]) -> ValidationFailed:
    first = problems[0]
    where = f"node {first['node_id']} " if first.get("node_id") else ""
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return ValidationFailed(f"{where}{first['pin']}: {first['message']}{more}", details=problems)


def _not_found(credentials_id: str) -> CredentialsNotFound:
    return CredentialsNotFound(f"credentials {credentials_id[:100]} not found")
