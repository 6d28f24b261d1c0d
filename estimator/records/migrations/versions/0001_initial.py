"""saved estimates, lines, users, API tokens, audit trail

Revision ID: 0001
Revises:
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("is_admin", sa.Boolean(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_users_email"), ["email"], unique=True)

    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_tokens_user_id"), ["user_id"], unique=False)

    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("estimate_id", sa.Integer(), nullable=True),
        sa.Column("via", sa.String(length=10), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_events_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_events_estimate_id"), ["estimate_id"], unique=False)

    op.create_table(
        "saved_estimates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=True),
        sa.Column("request", sa.JSON(), nullable=False),
        sa.Column("answer", sa.JSON(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("patient_name", sa.String(length=200), nullable=False),
        sa.Column("patient_birth_date", sa.Date(), nullable=False),
        sa.Column("total_expected", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("schedules_directory", sa.Text(), nullable=False),
        sa.Column("schedules_hash", sa.String(length=64), nullable=False),
        sa.Column("schedules_loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("supersedes_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
        ),
        sa.ForeignKeyConstraint(
            ["supersedes_id"],
            ["saved_estimates.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("saved_estimates", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_saved_estimates_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_saved_estimates_number"), ["number"], unique=True)
        batch_op.create_index(batch_op.f("ix_saved_estimates_patient_birth_date"), ["patient_birth_date"], unique=False)
        batch_op.create_index(batch_op.f("ix_saved_estimates_patient_name"), ["patient_name"], unique=False)

    op.create_table(
        "saved_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("estimate_id", sa.Integer(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("cpt_code", sa.String(length=5), nullable=False),
        sa.Column("modifiers", sa.String(length=40), nullable=False),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column("expected_charge", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.ForeignKeyConstraint(["estimate_id"], ["saved_estimates.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("saved_lines", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_saved_lines_cpt_code"), ["cpt_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_saved_lines_estimate_id"), ["estimate_id"], unique=False)


def downgrade():
    with op.batch_alter_table("saved_lines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_saved_lines_estimate_id"))
        batch_op.drop_index(batch_op.f("ix_saved_lines_cpt_code"))

    op.drop_table("saved_lines")
    with op.batch_alter_table("saved_estimates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_saved_estimates_patient_name"))
        batch_op.drop_index(batch_op.f("ix_saved_estimates_patient_birth_date"))
        batch_op.drop_index(batch_op.f("ix_saved_estimates_number"))
        batch_op.drop_index(batch_op.f("ix_saved_estimates_created_at"))

    op.drop_table("saved_estimates")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_events_estimate_id"))
        batch_op.drop_index(batch_op.f("ix_audit_events_at"))

    op.drop_table("audit_events")
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_tokens_user_id"))

    op.drop_table("api_tokens")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_users_email"))

    op.drop_table("users")
