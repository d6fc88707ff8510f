"""The observatory: de-identified statistics, network indicators and exports. Its pages
are in `app/web/reports.py`, its API in `app/api/report_routes.py`."""
