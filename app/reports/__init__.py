"""The observatory: de-identified statistics, network indicators, exports and their pages."""

from flask import Blueprint

bp = Blueprint("reports", __name__, url_prefix="/reports")
