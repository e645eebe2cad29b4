"""E-mail templates (Jinja2, text and HTML) for every notification type, and batches.

Invariant: templates see only the notification's own data and the unsubscribe link; the
HTML environment escapes every value (a run output cannot inject markup), the text one
renders plain text. A rendering error falls back to a generic body rather than no e-mail.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from jinja2 import DictLoader, Undefined, select_autoescape
from jinja2.sandbox import SandboxedEnvironment

from autoplat.db.notify_outbox import EmailDraft
from autoplat.logging import get_logger
from autoplat.notifications.types import SUBJECTS, NotificationType

log = get_logger("autoplat.notifications.templates")

_RUN_LINE = (
    "{{ n.data.graph_name or n.data.graph_id }} (run {{ n.data.graph_exec_id }}): "
    "{{ n.data.status }}{% if n.data.duration_seconds is number %}"
    " in {{ '%.1f'|format(n.data.duration_seconds) }}s{% endif %}"
)
_SUMMARY = (
    "{{ d.period }} from {{ d.start }} to {{ d.end }}: {{ d.runs }} runs, "
    "{{ d.successes }} succeeded, {{ d.failures }} failed, {{ d.credits_spent }} credits spent."
    "{% if d.top_agents %} Most run: {% for a in d.top_agents %}{{ a.graph_name or a.graph_id }}"
    " ({{ a.runs }}){% if not loop.last %}, {% endif %}{% endfor %}.{% endif %}"
    "{% if d.longest_run is mapping %} Longest run: {{ d.longest_run.graph_exec_id }}"
    " ({{ '%.1f'|format(d.longest_run.seconds) }}s).{% endif %}"
)
_BODIES: dict[str, str] = {
    "AGENT_RUN": _RUN_LINE.replace("n.data", "d"),
    "BLOCK_EXECUTION_FAILED": "A block failed in {{ d.graph_name or d.graph_id }} "
    "(run {{ d.graph_exec_id }}).",
    "ZERO_BALANCE": "Your credit balance reached zero{% if d.block_name %} while running "
    "{{ d.block_name }}{% endif %}. Top up to keep your agents running.",
    "LOW_BALANCE": "Your credit balance is {{ d.balance }}, below {{ d.threshold }}.",
    "CONTINUOUS_AGENT_ERROR": "{{ d.graph_name or d.graph_id }} failed {{ d.failures }} "
    "times in a row.",
    "DAILY_SUMMARY": _SUMMARY,
    "WEEKLY_SUMMARY": _SUMMARY,
    "MONTHLY_SUMMARY": _SUMMARY,
    "AGENT_APPROVED": "{{ d.agent_name }} was approved.",
    "AGENT_REJECTED": "{{ d.agent_name }} was not approved. {{ d.reason }}",
}
_TEXT_LAYOUT = "Hello,\n\n{{ body }}\n\n--\nStop these e-mails: {{ unsubscribe_url }}\n"
_HTML_LAYOUT = (
    "<!doctype html><html><body><p>Hello,</p>{{ body_html }}"
    '<p style="color:#888;font-size:small"><a href="{{ unsubscribe_url }}">'
    "Stop these e-mails</a></p></body></html>"
)
_BATCH_TEXT = "{% for n in items %}- " + _RUN_LINE + "\n{% endfor %}"
_BATCH_HTML = "<ul>{% for n in items %}<li>" + _RUN_LINE + "</li>{% endfor %}</ul>"


def _environment(html: bool) -> SandboxedEnvironment:
    templates = dict(_BODIES)
    templates["layout"] = _HTML_LAYOUT if html else _TEXT_LAYOUT
    templates["batch"] = _BATCH_HTML if html else _BATCH_TEXT
    return SandboxedEnvironment(
        loader=DictLoader(templates),
        autoescape=select_autoescape(default=html, default_for_string=html),
        # A missing field renders empty: notification data differs between sources.
        undefined=Undefined,
    )


_TEXT = _environment(html=False)
_HTML = _environment(html=True)


def _render(env: SandboxedEnvironment, name: str, **context: Any) -> str:
    return env.get_template(name).render(**context)


def render_single(
    type: NotificationType, data: dict[str, Any], *, to_address: str, unsubscribe_url: str
) -> EmailDraft:
    """The e-mail of one notification."""
    try:
        text_body = _render(_TEXT, type.value, d=data)
        html_body = "<p>" + _render(_HTML, type.value, d=data) + "</p>"
    except Exception as exc:  # a template must never cost the user the message
        log.warning("notifications.template_failed", type=type.value, error=str(exc)[:200])
        text_body = html_body = f"You have a new {type.value} notification."
    return EmailDraft(
        kind=type.value,
        to_address=to_address,
        subject=SUBJECTS[type],
        body_text=_render(_TEXT, "layout", body=text_body, unsubscribe_url=unsubscribe_url),
        body_html=_render(
            _HTML, "layout", body_html=_markup(html_body), unsubscribe_url=unsubscribe_url
        ),
    )


def render_batch(
    items: Sequence[dict[str, Any]], *, to_address: str, unsubscribe_url: str
) -> EmailDraft:
    """The e-mail of a batch of run notifications."""
    text_body = _render(_TEXT, "batch", items=items)
    html_body = _render(_HTML, "batch", items=items)
    count = len(items)
    return EmailDraft(
        kind="BATCH",
        to_address=to_address,
        subject=f"{count} agent run{'s' if count != 1 else ''} finished",
        body_text=_render(_TEXT, "layout", body=text_body, unsubscribe_url=unsubscribe_url),
        body_html=_render(
            _HTML, "layout", body_html=_markup(html_body), unsubscribe_url=unsubscribe_url
        ),
    )


def _markup(html: str) -> Any:
    from markupsafe import Markup

    # Already escaped by the HTML environment: the layout must not escape it again.
    return Markup(html)
