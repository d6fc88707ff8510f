"""Imports every model module so that the mappers and Alembic see the whole schema."""

from app.audit import models as audit_models
from app.auth import models as auth_models
from app.cases import (
    aggressor_models,
    care_models,
    dependant_models,
    justice_models,
    legal_models,
    record_models,
)
from app.cases import models as case_models
from app.crypto import models as crypto_models
from app.directory import models as directory_models
from app.notifications import models as notification_models
from app.referrals import models as referral_models
from app.reports import models as report_models
from app.retention import models as retention_models

__all__ = [
    "aggressor_models",
    "audit_models",
    "auth_models",
    "care_models",
    "case_models",
    "crypto_models",
    "dependant_models",
    "directory_models",
    "justice_models",
    "legal_models",
    "notification_models",
    "record_models",
    "referral_models",
    "report_models",
    "retention_models",
]
