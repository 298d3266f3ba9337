"""email addresses: international domains in their ASCII (IDNA) form

Addresses were stored with the domain in Unicode (`qa@bücher.example`); the app now keeps
one canonical form, the ASCII one (`qa@xn--bcher-kva.example`), so both spellings are one
person and mail reaches relays without SMTPUTF8. Rows are rewritten so existing accounts
and pending sign-in links still match. A row whose canonical form is already taken is left
as it is (it cannot happen with data the app wrote: both spellings mapped to one form).

Revision ID: 0005_idna
Revises: 0004
Create Date: 2026-11-29 21:40:00
"""
from alembic import op
import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email


revision = '0005_idna'
down_revision = '0004'
branch_labels = None
depends_on = None

_TABLES = {'user': True, 'magiclink': False}  # table: whether `email` is unique there


def _ascii_form(address: str) -> str | None:
    try:
        info = validate_email(address, check_deliverability=False)
    except EmailNotValidError:
        return None
    return (info.ascii_email or info.normalized).lower()


def _unicode_form(address: str) -> str | None:
    try:
        return validate_email(address, check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        return None


def _rewrite(convert) -> None:  # type: ignore[no-untyped-def]
    conn = op.get_bind()
    for table, unique in _TABLES.items():
        t = sa.table(table, sa.column('id'), sa.column('email'))
        rows = conn.execute(sa.select(t.c.id, t.c.email)).all()
        taken = {email for _, email in rows}
        for row_id, email in rows:
            if email.isascii() == (convert is _ascii_form):
                continue  # already in the target form
            new = convert(email)
            if new is None or new == email or (unique and new in taken):
                continue
            conn.execute(sa.update(t).where(t.c.id == row_id).values(email=new))
            taken.add(new)


def upgrade() -> None:
    _rewrite(_ascii_form)


def downgrade() -> None:
    _rewrite(_unicode_form)
