"""The audit log: append-only events chained by HMAC, its sealed head, and `verify`.

Every other package writes through `audit.service.audit`; nothing here knows users or
cases beyond the ids it records. Break-glass grants are kept here as records (the case
loader checks them); what supervisors do with them is `app.supervision`.
"""
