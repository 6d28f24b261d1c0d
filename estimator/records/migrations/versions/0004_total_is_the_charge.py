"""a saved estimate's listed total is its total estimated charge (the allowed amount), not the patient's share

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02

The column only indexes the list: the record's answer, which holds both figures, is unchanged.
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _recompute(level_of):
    saved = sa.table(
        "saved_estimates", sa.column("id", sa.Integer), sa.column("answer", sa.JSON), sa.column("total_expected")
    )
    bind = op.get_bind()
    for record_id, answer in bind.execute(sa.select(saved.c.id, saved.c.answer)).all():
        answer = json.loads(answer) if isinstance(answer, str) else answer
        total = level_of(answer)
        bind.execute(sa.update(saved).where(saved.c.id == record_id).values(total_expected=total))


def upgrade():
    _recompute(lambda answer: answer["allowed_amount"]["expected"])


def downgrade():
    _recompute(lambda answer: answer["patient_responsibility"]["expected"])
