"""The justice pathway's rules (app/cases/justice_policy.py), written out literally."""

from __future__ import annotations

import pytest

from app.cases import justice_policy as rules


@pytest.mark.parametrize(
    ("action", "role", "allowed"),
    [
        ("forward", "pnc_agent", True),
        ("forward", "prosecutor_staff", True),
        ("forward", "court_staff", False),
        ("file_requerimiento", "prosecutor_staff", True),
        ("file_requerimiento", "pnc_agent", False),
        ("sentence", "court_staff", True),
        ("sentence", "prosecutor_staff", False),
        ("dismiss", "court_staff", True),
        ("dismiss", "legal_aid_staff", False),
        ("conciliate", "court_staff", False),
    ],
)
def test_each_move_is_made_by_its_roles_only(action, role, allowed):
    assert rules.may_make(action, role) is allowed


def test_the_moves_follow_the_pathway():
    assert rules.moves_for("pnc_agent", "received") == ["forward"]
    assert rules.moves_for("prosecutor_staff", "forwarded") == ["file_requerimiento"]
    assert rules.moves_for("court_staff", "hearings") == ["sentence", "dismiss"]
    assert rules.moves_for("court_staff", "received") == []
    assert rules.moves_for("legal_aid_staff", "hearings") == []
    assert not rules.allowed_from("sentence", "requerimiento")


def test_conciliation_and_mediation_are_prohibited():
    assert rules.is_prohibited("conciliate") and rules.is_prohibited("mediate")
    assert not rules.is_prohibited("forward")


def test_hearings_come_after_the_requerimiento_and_the_first_moves_the_complaint():
    assert [s for s in rules.STATUSES if rules.schedulable(s)] == ["requerimiento", "hearings"]
    assert rules.status_after_hearing("requerimiento") == "hearings"
    assert rules.status_after_hearing("hearings") == "hearings"
    assert rules.may_schedule("court_staff") and rules.may_schedule("prosecutor_staff")
    assert not rules.may_schedule("pnc_agent")


def test_each_file_number_is_set_by_its_own_institution():
    assert rules.may_set_number("fgr_number", "prosecutor_staff")
    assert not rules.may_set_number("fgr_number", "court_staff")
    assert rules.may_set_number("court_number", "court_staff")
    assert not rules.may_set_number("court_number", "prosecutor_staff")
