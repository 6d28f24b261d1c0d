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
    #: Raised when every session of the user must end (sign-out, disabled, a new password): a session is
    #: valid only while it carries the current value.
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    # Flask-Login's user protocol
    @property
    def is_authenticated(self):
        return True

    @property
    def is_anonymous(self):
        return False

    def get_id(self):
        return f"{self.id}:{self.session_version}"


class ApiToken(Base):
    """An API token: a long random secret, kept only as its SHA-256 digest (looked up directly)."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
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
    #: The record this one corrects; at most one record corrects a given one (a unique index).
    supersedes_id: Mapped[int | None] = mapped_column(
        ForeignKey("saved_estimates.id"), nullable=True, unique=True, index=True
    )

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
    """Who did what to which record, and when: created, viewed, printed, exported, superseded; and each search,
    with the records it listed."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    action: Mapped[str] = mapped_column(String(20))
    estimate_id: Mapped[int | None] = mapped_column(Integer, index=True, nullable=True)
    via: Mapped[str] = mapped_column(String(10))  # api, web, cli
    #: A search's filters (their names, not what was typed) and the ids of the records it listed.
    detail: Mapped[dict | None] = mapped_column(JSON, nullable=True)

    user: Mapped[User | None] = relationship()


class SignInCounter(Base):
    """Failed sign-ins in the current window, per key: an address with an account, an address, or an account
    (each a hash, never the address or email itself). Counted atomically in the database, so every worker
    and server of the installation shares them; ``last_success`` marks an address and account that
    signed in before (a known place, which a count kept elsewhere does not lock out)."""

    __tablename__ = "sign_in_counters"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_start: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_success: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
