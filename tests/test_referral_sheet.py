"""The hoja de referencia y contrarreferencia (issue 12, item 4): what it carries, for whom,
and what it leaves out; a former party gets 404 (CONTRACT §5)."""

from __future__ import annotations

import re

from sqlalchemy import select, update

from app.audit.models import AuditEvent
from app.auth.models import User
from app.core.time import local_today
from app.directory.models import Institution
from app.extensions import db
from tests.factories import incident, intake
from tests.test_referral_inbox import (
    API,
    COUNTER,
    NAME,
    REASON,
    institution_id,
    move,
    open_case,
    refer,
    web,
)

NARRATIVE = incident()["narrative"]
TODAY = local_today().strftime("%d/%m/%Y")


def _directory(app) -> None:
    """The address and phone the network's directory gives the two institutions."""
    with app.app_context():
        for code, address, phone in (
            ("PNC-SON", "Final 6a calle oriente, Sonsonate", "2451-1000"),
            ("US-SON", "Barrio El Ángel, Sonsonate", "2451-2000"),
        ):
            db.session.execute(
                update(Institution)
                .where(Institution.code == code)
                .values(address=address, phone=phone)
            )
        db.session.execute(
            update(User).where(User.username == "agente.test").values(display_name="Rosa Pérez")
        )
        db.session.commit()


def _sheet(app, person, referral_id: str):
    return web(app, person).get(f"/referrals/{referral_id}/sheet")


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_the_senders_sheet_carries_the_networks_fields(app, client, pnc, health):
    _directory(app)
    case_id = open_case(client, pnc)
    referral = refer(client, pnc, case_id, institution_id(client, pnc, "US-SON"))
    response = _sheet(app, pnc, referral)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    text = _text(html)
    number = client.get(f"{API}/cases/{case_id}", headers=pnc.headers).get_json()["number"]
    for expected in (
        "Red Interinstitucional de Atención de Sonsonate",  # the network's header
        "Hoja de referencia y contrarreferencia",
        number,
        TODAY,
        "PNC — UNIMUJER-ODAC Sonsonate",
        "Final 6a calle oriente, Sonsonate",
        "2451-1000",
        "Rosa Pérez",  # the worker who sent it
        "Unidad de Salud Sonsonate",
        "Barrio El Ángel, Sonsonate",
        "2451-2000",
        "Horario",
        "24 horas",  # its hours
        "Atención médica",
        "Inmediata",
        REASON,
        NAME,
        "Teléfono 7777-1234",  # a way to reach her: she has no safe contact recorded
        f"La sobreviviente autorizó compartir su información con la red el {TODAY}.",
        "Firma y sello de quien remite",
        "Firma y sello de quien recibe",
        "Cortar aquí y devolver a quien remite",
        "Qué se hizo",
        "Próximo paso",
        "A quién contactar",
    ):
        assert expected in text, expected
    # Not completed: blank lines to write the counter-referral on, by hand.
    contra = html[html.index('class="hoja-contra"') :]
    assert contra.count('class="write-in line"') == 5
    # Never her account of the violence, never her address.
    assert NARRATIVE not in html and "Colonia Las Palmeras" not in html
    with app.app_context():
        event = db.session.execute(
            select(AuditEvent.action, AuditEvent.object_type)
            .where(AuditEvent.object_id == referral)
            .order_by(AuditEvent.id.desc())
        ).first()
    assert tuple(event) == ("case_view", "referral_sheet")


def test_the_completed_sheet_carries_the_counter_referral(app, client, pnc, health):
    case_id = open_case(client, pnc)
    referral = refer(client, pnc, case_id, institution_id(client, pnc, "US-SON"))
    assert move(client, health, referral, "accept_and_start").status_code == 200
    assert move(client, health, referral, "complete", **COUNTER).status_code == 200
    for person in (pnc, health):
        html = _sheet(app, person, referral).get_data(as_text=True)
        contra = _text(html[html.index('class="hoja-contra"') :])
        for text in COUNTER.values():
            assert text in contra
        assert health.username in contra  # who attended her signs under her name
        assert 'class="write-in line"' not in html[html.index('class="hoja-contra"') :]


def test_a_live_receiver_not_yet_a_party_prints_it_without_her_name(app, client, pnc, health):
    case_id = open_case(client, pnc)
    referral = refer(client, pnc, case_id, institution_id(client, pnc, "US-SON"))
    response = _sheet(app, health, referral)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert REASON in html
    assert NAME not in html and "7777-1234" not in html
    assert "Volver al expediente" not in html  # the case page is not hers yet


def test_a_former_party_gets_404(app, client, pnc, health):
    case_id = open_case(client, pnc)
    to = institution_id(client, pnc, "US-SON")
    declined = refer(client, pnc, case_id, to)
    assert move(client, health, declined, "decline", note="Sin cupo").status_code == 200
    cancelled = refer(client, pnc, case_id, to)
    assert move(client, pnc, cancelled, "cancel").status_code == 200
    assert _sheet(app, health, declined).status_code == 404
    assert _sheet(app, health, cancelled).status_code == 404
    assert _sheet(app, pnc, declined).status_code == 200  # the sender still takes part


def test_a_minors_mandatory_report_says_so_instead_of_consent(app, client, health):
    minor = f"{local_today().year - 15}-05-04"
    body = intake(
        {"dui": None, "birth_date": minor},
        consent={"share_with_network": False, "statistics": False, "police": False},
    )
    case_id = client.post(f"{API}/cases", json=body, headers=health.headers).get_json()["id"]
    referral = refer(
        client,
        health,
        case_id,
        institution_id(client, health, "PNC-SON"),
        consent=False,
        service="police_complaint",
    )
    text = _text(_sheet(app, health, referral).get_data(as_text=True))
    assert "Aviso obligatorio: la sobreviviente es menor de edad" in text
    assert "autorizó compartir" not in text


def test_her_safe_contact_goes_on_the_sheet_instead_of_her_phone(app, client, pnc):
    safe = "Llamar a su hermana Rosibel al 6123-4598"
    case_id = open_case(client, pnc, safe_contact=safe)
    referral = refer(client, pnc, case_id, institution_id(client, pnc, "US-SON"))
    text = _text(_sheet(app, pnc, referral).get_data(as_text=True))
    assert f"Contacto seguro {safe}" in text
    assert "7777-1234" not in text
