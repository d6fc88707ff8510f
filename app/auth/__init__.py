"""Users, roles, passwords, TOTP, sessions, API tokens, the `Caller`, and the role
predicates (what a role may do at all). Which record a caller may see is
`app.cases.access`; the login pages are `app.web.account`.
"""
