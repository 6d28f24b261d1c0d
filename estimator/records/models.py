"""The saved records (SPEC section 9): saved estimates and their lines, staff users, API tokens, the audit
trail. SQLAlchemy 2 typed models; the schema is made by the Alembic migrations beside them."""

import datetime as dt

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, Numeric, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow():
    return dt.datetime.now(dt.UTC)


def as_utc(value):
    """A stored time as UTC with its zone (SQLite gives back naive times; they were stored as UTC)."""
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True, index=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    # Flask-Login's user protocol
    @property
    def is_authenticated(self):
        return True

    @property
    def is_anonymous(self):
        return False

    def get_id(self):
        return str(self.id)


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    user: Mapped[User] = relationship()


class SavedEstimate(Base):
    """A saved estimate: never changed; a correction is a new one that supersedes it."""

    __tablename__ = "saved_estimates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str | None] = mapped_column(String(32), unique=True, index=True, nullable=True)
    request: Mapped[dict] = mapped_column(JSON)
    answer: Mapped[dict] = mapped_column(JSON)
    details: Mapped[dict] = mapped_column(JSON)  # patient, provider, facility, diagnosis codes
    patient_name: Mapped[str] = mapped_column(String(200), index=True)
    patient_birth_date: Mapped[dt.date] = mapped_column(index=True)
    total_expected: Mapped[float] = mapped_column(Numeric(14, 2))
    schedules_directory: Mapped[str] = mapped_column(Text)
    schedules_hash: Mapped[str] = mapped_column(String(64))
    schedules_loaded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("saved_estimates.id"), nullable=True)

    created_by: Mapped[User] = relationship()
    lines: Mapped[list["SavedLine"]] = relationship(back_populates="estimate", order_by="SavedLine.line")
    supersedes: Mapped["SavedEstimate | None"] = relationship(remote_side=[id])


class SavedLine(Base):
    __tablename__ = "saved_lines"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    estimate_id: Mapped[int] = mapped_column(ForeignKey("saved_estimates.id", ondelete="CASCADE"), index=True)
    line: Mapped[int] = mapped_column(Integer)
    cpt_code: Mapped[str] = mapped_column(String(5), index=True)
    modifiers: Mapped[str] = mapped_column(String(40), default="")
    units: Mapped[int] = mapped_column(Integer)
    expected_charge: Mapped[float] = mapped_column(Numeric(14, 2))

    estimate: Mapped[SavedEstimate] = relationship(back_populates="lines")


class AuditEvent(Base):
    """Who did what to which record, and when: created, read, printed, exported, superseded."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    action: Mapped[str] = mapped_column(String(20))
    estimate_id: Mapped[int | None] = mapped_column(Integer, index=True, nullable=True)
    via: Mapped[str] = mapped_column(String(10))  # api, web, cli

    user: Mapped[User | None] = relationship()


class SignInFailure(Base):
    """A failed sign-in, by a hash of the address and email it came with: shared by every worker and
    server of the installation, so repeated failures are slowed whichever process they reach."""

    __tablename__ = "sign_in_failures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
