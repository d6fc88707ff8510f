"""The pages: every HTML view, its forms and template helpers (one face of the domain).

A view parses the form, calls one service function with the `Caller` of `web_caller()`,
and renders or redirects; the request commits once (app/core/transaction.py).
"""

from __future__ import annotations

from flask import Flask


def register_pages(app: Flask) -> None:
    from app.web import admin_catalogue as _catalogue  # noqa: F401  (catalogues: `admin`)
    from app.web import aggressor_pages as _aggressors  # noqa: F401  (his form: `case_forms`)
    from app.web import dependants as _dependants  # noqa: F401  (children: `case_forms`)
    from app.web import incident_repeats as _repeats  # noqa: F401  (on `case_corrections`)
    from app.web import merge as _merge  # noqa: F401  (duplicates and merges: `cases`, /audit)
    from app.web import retention as _retention  # noqa: F401  (holds, erasures, /audit/retention)
    from app.web import search as _search  # noqa: F401  (adds /cases/search to `cases`)
    from app.web import status as _status  # noqa: F401  (adds /status to `public`)
    from app.web import work_list as _work_list  # noqa: F401  (/cases, the caseload forms)
    from app.web.account import bp as account
    from app.web.admin import bp as admin
    from app.web.audit import bp as audit_pages
    from app.web.case_actions import bp as case_forms
    from app.web.case_corrections import bp as case_corrections
    from app.web.cases import bp as cases
    from app.web.dashboard import bp as main
    from app.web.dashboard import public
    from app.web.justice import bp as justice_forms
    from app.web.referrals import bp as referrals
    from app.web.reports import bp as reports
    from app.web.session import bp as session_clock
    from app.web.transfers import bp as transfers

    for blueprint in (
        account,
        main,
        public,
        cases,
        case_forms,
        justice_forms,
        case_corrections,
        referrals,
        audit_pages,
        admin,
        reports,
        session_clock,
        transfers,
    ):
        app.register_blueprint(blueprint)
