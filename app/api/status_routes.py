"""The survivor's status lookup, `POST /api/v1/status`: the API's only call open to anyone.

No token is asked for (see `PUBLIC_ENDPOINTS` in `app/api/auth.py`). The code and PIN
come in the body, never in the URL; wrong pairs are limited per address here and per
code in `app/status/service.py`, with the same budget as the web page.
"""

from __future__ import annotations

from flask import Response, jsonify

from app.api import bp
from app.api.helpers import json_body, load
from app.crypto.service import get_keyring
from app.extensions import db, limiter
from app.status.schemas import StatusIn
from app.status.service import PER_ADDRESS_LIMIT, look_up_status


def wrong_pair(response: Response) -> bool:
    """Only wrong code/PIN pairs count against the caller's address."""
    return response.status_code == 404


@bp.post("/status", endpoint="survivor_status")
@limiter.shared_limit(PER_ADDRESS_LIMIT, scope="status-lookup", deduct_when=wrong_pair)
def survivor_status() -> Response:
    data = load(StatusIn, json_body())
    stage = look_up_status(db.session, get_keyring(), data["code"], data["pin"])
    return jsonify({"status": stage.status, "next_step": stage.next_step})
