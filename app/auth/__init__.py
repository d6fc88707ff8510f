"""Users, institutions, roles, login, MFA, sessions, tokens and the access policy.

The web blueprint lives in `app.web.account`; it is imported by the app factory only,
so models and services can be imported without pulling in the views.
"""
