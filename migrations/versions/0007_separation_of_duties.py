"""separation of duties: accounts wait for approval; numbers, courts, reasons sealed

Case-role accounts made by an administrator wait for a supervisor's approval: users get
`approved_at`, `approved_by_user_id` and `requested_by_user_id`; everyone already on
file was let in before this rule, so they count as approved. Complaint numbers, court
names and break-glass reasons move to sealed columns, encrypted here with each case's
data key (the key file must be at hand when there are rows); the downgrade opens them
again, and disables the accounts still waiting (the old code would let them in).

Columns are added and dropped in place (SQLite 3.35 or later): rebuilding `users` or
`complaints` the batch way fails while other tables' rows point at them.

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from alembic import op
from flask import current_app

# The envelope format is versioned and must open every V1 blob ever written, so what
# this migration seals stays readable whatever the application code becomes.
from app.crypto.envelope import FieldCipher, unwrap_data_key, wrapped_kek_id

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# table, plaintext column (and its length), sealed column, id type. The field name in
# the seal is the plaintext column's, as the application seals it.
SEALED = (
    ("complaints", "number", 40, "number_enc", sa.Uuid()),
    ("protection_measures", "court", 160, "court_enc", sa.Uuid()),
    ("break_glass", "reason", 500, "reason_enc", sa.Integer()),
)
APPROVAL_COLUMNS = ("approved_at", "approved_by_user_id", "requested_by_user_id")

CASES = sa.table("cases", sa.column("id", sa.Uuid()), sa.column("data_key_id", sa.Uuid()))
DATA_KEYS = sa.table(
    "data_keys", sa.column("id", sa.Uuid()), sa.column("wrapped", sa.LargeBinary())
)
USERS = sa.table(
    "users",
    sa.column("role", sa.String()),
    sa.column("active", sa.Boolean()),
    sa.column("security_stamp", sa.Integer()),
    sa.column("created_at", sa.DateTime()),
    sa.column("approved_at", sa.DateTime()),
)
NOT_CASE_ROLES = ("supervisor", "admin")


def _keyring() -> Any:
    ring = current_app.extensions.get("ruta.keyring")
    if ring is None:
        raise RuntimeError(
            "revision 0007 encrypts the complaint numbers, courts and break-glass reasons "
            "already stored: it needs the key file (RUTA_KEY_FILE)"
        )
    return ring


def _case_ciphers(conn: Any) -> Callable[[Any], FieldCipher]:
    """The cipher of each case, its data key unwrapped once; the key ring only if needed."""
    found: dict[Any, FieldCipher] = {}

    def cipher(case_id: Any) -> FieldCipher:
        if case_id not in found:
            key_id, wrapped = conn.execute(
                sa.select(DATA_KEYS.c.id, DATA_KEYS.c.wrapped)
                .join(CASES, CASES.c.data_key_id == DATA_KEYS.c.id)
                .where(CASES.c.id == case_id)
            ).one()
            kek = _keyring().kek(wrapped_kek_id(wrapped))
            found[case_id] = FieldCipher(key_id, unwrap_data_key(kek, key_id, wrapped))
        return found[case_id]

    return cipher


def _table(name: str, plain: str, length: int, sealed: str, id_type: Any) -> Any:
    return sa.table(
        name,
        sa.column("id", id_type),
        sa.column("case_id", sa.Uuid()),
        sa.column(plain, sa.String(length)),
        sa.column(sealed, sa.LargeBinary()),
    )


def _convert(conn: Any, spec: tuple[Any, ...], *, seal: bool) -> None:
    name, plain, length, sealed, id_type = spec
    table = _table(name, plain, length, sealed, id_type)
    source, target = (plain, sealed) if seal else (sealed, plain)
    cipher = _case_ciphers(conn)
    rows = conn.execute(
        sa.select(table.c.id, table.c.case_id, table.c[source]).where(table.c[source].is_not(None))
    ).all()
    for row_id, case_id, value in rows:
        if seal:
            new = cipher(case_id).seal(name, row_id, plain, value)
        else:
            new = cipher(case_id).open_text(name, row_id, plain, value)
        conn.execute(table.update().where(table.c.id == row_id).values({target: new}))


def upgrade():
    op.add_column("users", sa.Column("approved_at", sa.DateTime(), nullable=True))
    op.add_column("users", sa.Column("approved_by_user_id", sa.Integer(), nullable=True))
    op.add_column("users", sa.Column("requested_by_user_id", sa.Integer(), nullable=True))
    op.execute(USERS.update().values(approved_at=USERS.c.created_at))
    conn = op.get_bind()
    for spec in SEALED:
        name, plain, _length, sealed, _id_type = spec
        op.add_column(name, sa.Column(sealed, sa.LargeBinary(), nullable=True))
        _convert(conn, spec, seal=True)
        op.drop_column(name, plain)


def downgrade():
    conn = op.get_bind()
    for spec in SEALED:
        name, plain, length, sealed, _id_type = spec
        op.add_column(name, sa.Column(plain, sa.String(length=length), nullable=True))
        _convert(conn, spec, seal=False)
        op.drop_column(name, sealed)
    if conn.dialect.name != "sqlite":  # SQLite cannot make them NOT NULL again in place
        op.alter_column("complaints", "number", existing_type=sa.String(40), nullable=False)
        op.alter_column("break_glass", "reason", existing_type=sa.String(500), nullable=False)
    # Without the approval rule a waiting account would sign in at once: it is disabled.
    op.execute(
        USERS.update()
        .where(USERS.c.approved_at.is_(None), USERS.c.role.not_in(NOT_CASE_ROLES))
        .values(active=False, security_stamp=USERS.c.security_stamp + 1)
    )
    for column in APPROVAL_COLUMNS:
        op.drop_column("users", column)
