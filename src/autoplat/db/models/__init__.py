"""The data model: every table of autoplat, importable from one place."""

from __future__ import annotations

from autoplat.db.models.base import Base
from autoplat.db.models.credentials import Credential, OAuthState
from autoplat.db.models.credits import CreditTransaction, UserBalance
from autoplat.db.models.executions import GraphExecution, NodeExecution, Worker
from autoplat.db.models.files import StoredFile
from autoplat.db.models.graphs import GraphVersion, LibraryAgent
from autoplat.db.models.kv import ExecutionKeyValue
from autoplat.db.models.notify import (
    NotificationDelivery,
    NotificationEmail,
    NotificationKey,
    NotificationUserState,
)
from autoplat.db.models.presets import (
    AgentPreset,
    ExecutionShare,
    IntegrationWebhook,
    WebhookDelivery,
)
from autoplat.db.models.reviews import PendingReview
from autoplat.db.models.schedules import Schedule, ScheduleFire
from autoplat.db.models.system import Notification, SystemJob
from autoplat.db.models.users import ApiKey, User

__all__ = [
    "AgentPreset",
    "ApiKey",
    "Base",
    "Credential",
    "CreditTransaction",
    "ExecutionKeyValue",
    "ExecutionShare",
    "GraphExecution",
    "GraphVersion",
    "IntegrationWebhook",
    "LibraryAgent",
    "NodeExecution",
    "Notification",
    "NotificationDelivery",
    "NotificationEmail",
    "NotificationKey",
    "NotificationUserState",
    "OAuthState",
    "PendingReview",
    "Schedule",
    "ScheduleFire",
    "StoredFile",
    "SystemJob",
    "User",
    "UserBalance",
    "WebhookDelivery",
    "Worker",
]
