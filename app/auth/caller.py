"""Who is asking: the signed-in user, where from and through which face.

Each face (pages, API, CLI) builds one `Caller` per request in one place and hands it to
the services, which authorise and audit with it; so the web and the API record the same
action with the same detail.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.audit.service import Actor
from app.auth.models import User


@dataclass(frozen=True)
class Caller:
    user: User
    ip: str | None
    channel: str  # "web", "api" or "cli"

    @property
    def id(self) -> int:
        return self.user.id

    @property
    def username(self) -> str:
        return self.user.username

    @property
    def institution_id(self) -> int:
        return self.user.institution_id

    @property
    def institution_code(self) -> str:
        return self.user.institution.code

    @property
    def role(self) -> str:
        return self.user.role

    @property
    def active(self) -> bool:
        return self.user.active

    @property
    def password_hash(self) -> str:
        return self.user.password_hash

    def actor(self) -> Actor:
        return Actor(self.id, self.username, self.institution_code, self.role, self.ip)
