"""Audit views by aggregate type (explicit registration)."""

from __future__ import annotations

from audit.views.base import State, View
from audit.views.contract import CONTRACT
from audit.views.enrolment import CALL_OFF, ENROLMENT_WINDOW, ORGANISATION
from audit.views.generic import generic_view
from audit.views.tender import TENDER

VIEWS: dict[str, View] = {
    v.aggregate_type: v for v in (TENDER, CONTRACT, ORGANISATION, ENROLMENT_WINDOW, CALL_OFF)
}

# Which context owns which aggregate type (the cross-context contract).
OWNERS: dict[str, str] = {
    "programme": "registry",
    "tender": "registry",
    "contract": "registry",
    "organisation": "enrolment",
    "enrolment_window": "enrolment",
    "call_off": "enrolment",
}


def view_for(aggregate_type: str) -> View:
    return VIEWS.get(aggregate_type) or generic_view(aggregate_type)


__all__ = ["OWNERS", "VIEWS", "State", "View", "view_for"]
