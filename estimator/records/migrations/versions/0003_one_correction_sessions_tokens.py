"""one correction per record, sessions that end, tokens looked up by digest, searches in the audit trail,
sign-in counts kept atomically

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01

Tokens made before were kept as argon2 hashes, which cannot be looked up by digest: they are revoked
(make new ones with ``tokens create``). Should a record have been corrected twice (possible before the
unique index), its earliest correction stays the correction and the later ones stand on their own.
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    saved = sa.table("saved_estimates", sa.column("id", sa.Integer), sa.column("supersedes_id", sa.Integer))
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(saved.c.id, saved.c.supersedes_id).where(saved.c.supersedes_id.is_not(None)).order_by(saved.c.id)
    ).all()
    seen = set()
    for record_id, old_id in rows:
        if old_id in seen:
            bind.execute(sa.update(saved).where(saved.c.id == record_id).values(supersedes_id=None))
        seen.add(old_id)
    with op.batch_alter_table("saved_estimates", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_saved_estimates_supersedes_id"), ["supersedes_id"], unique=True)

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("session_version", sa.Integer(), server_default="0", nullable=False))

    tokens = sa.table(
        "api_tokens",
        sa.column("id", sa.Integer),
        sa.column("token_hash", sa.String),
        sa.column("revoked_at", sa.DateTime(timezone=True)),
    )
    for (token_id,) in bind.execute(sa.select(tokens.c.id)).all():
        bind.execute(
            sa.update(tokens)
            .where(tokens.c.id == token_id)
            .values(
                token_hash=f"argon2-token-{token_id}", revoked_at=sa.func.coalesce(tokens.c.revoked_at, sa.func.now())
            )
        )
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.alter_column("token_hash", existing_type=sa.String(length=255), type_=sa.String(length=64))
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_api_tokens_token_hash"), ["token_hash"], unique=True)

    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("detail", sa.JSON(), nullable=True))

    op.create_table(
        "sign_in_counters",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_success", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key"),
    )
    with op.batch_alter_table("sign_in_failures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sign_in_failures_at"))
        batch_op.drop_index(batch_op.f("ix_sign_in_failures_key"))
    op.drop_table("sign_in_failures")


def downgrade():
    op.create_table(
        "sign_in_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("sign_in_failures", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sign_in_failures_key"), ["key"], unique=False)
        batch_op.create_index(batch_op.f("ix_sign_in_failures_at"), ["at"], unique=False)
    op.drop_table("sign_in_counters")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_column("detail")
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_tokens_token_hash"))
        batch_op.drop_column("expires_at")
        batch_op.alter_column("token_hash", existing_type=sa.String(length=64), type_=sa.String(length=255))
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("session_version")
    with op.batch_alter_table("saved_estimates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_saved_estimates_supersedes_id"))
