"""Who is acting: a staff member on the web or API, or an operating-system user on the CLI."""

from __future__ import annotations

import getpass
import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cpniguard.accounts.models import StaffUser


class Channel(StrEnum):
    WEB = "web"
    API = "api"
    CLI = "cli"
    SYSTEM = "system"


def new_request_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True, slots=True)
class Actor:
    username: str
    role: str
    channel: Channel
    request_id: str = field(default_factory=new_request_id)

    @classmethod
    def for_staff(cls, user: StaffUser, channel: Channel, request_id: str) -> Actor:
        return cls(user.get_username(), user.role, channel, request_id)

    @classmethod
    def for_os_user(cls) -> Actor:
        """The CLI acts as the staff member linked to the operating-system user running it.

        An OS user with no linked staff account has no role, so the policy refuses everything
        it asks for customer data (the refusal is still audited, under the OS user's name).
        """
        from cpniguard.accounts.models import StaffUser

        os_user = getpass.getuser()
        staff = StaffUser.objects.filter(os_username=os_user, is_active=True).first()
        if staff is None:
            return cls(f"os:{os_user}", "", Channel.CLI)
        return cls(f"{staff.get_username()} (os:{os_user})", staff.role, Channel.CLI)

    @classmethod
    def system(cls, name: str) -> Actor:
        return cls(f"system:{name}", "", Channel.SYSTEM)
