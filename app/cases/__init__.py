"""The single record: one case per survivor, its parts, and who sees what of it.

`access.py` is THE loader (the only code that queries cases or the party table);
`policy.py` holds the rules as pure functions; `service.py` (intake, matching, consent,
joins), `care.py`, `complaints.py`, `attachments.py` and `search.py` change it and audit
themselves; `present.py` decrypts and shapes for a view. Never imports `referrals`.
"""
