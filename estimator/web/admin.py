"""Administration pages, for admin users only: staff accounts (add, disable, enable, a new password),
their API tokens (create, list, revoke), and the audit trail. Staff who are not admins save and read
records; these pages answer them 403."""

import functools

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import login_required
from sqlalchemy import func, select

from ..records.accounts import (
    AccountError,
    add_user,
    create_token,
    disable_user,
    enable_user,
    expiry,
    list_tokens,
    revoke_token,
    set_password,
)
from ..records.models import ApiToken, AuditEvent, SavedEstimate, User
from ..records.service import audit
from .auth import db, page_user

bp = Blueprint("admin", __name__, url_prefix="/admin")

#: Token lifetimes the page offers (the command line takes any, ``tokens create --expires``).
TOKEN_LIFETIMES = (("", "Until revoked"), ("30d", "30 days"), ("90d", "90 days"), ("1y", "One year"))
AUDIT_PAGE = 50


def admin_required(view):
    """Signed in, and an admin: else the sign-in page, or 403."""

    @functools.wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if not page_user().is_admin:
            abort(403)
        return view(*args, **kwargs)

    return wrapped


def _user(user_id):
    user = db().get(User, user_id) if 0 < user_id < 2**31 else None
    if user is None:
        abort(404)
    return user


def _done(message, **detail):
    """Audit an account change (who did it, to whom) and say it on the next page."""
    audit(db(), page_user(), "account", None, "web", detail)
    db().commit()
    flash(message)


@bp.get("/users")
@admin_required
def users():
    """Staff accounts: who they are, their role and state, their tokens."""
    session = db()
    accounts = session.scalars(select(User).order_by(User.email)).all()
    tokens = dict(
        session.execute(
            select(ApiToken.user_id, func.count()).where(ApiToken.revoked_at.is_(None)).group_by(ApiToken.user_id)
        ).all()
    )
    return render_template("admin_users.html", accounts=accounts, tokens=tokens, error=None)


@bp.post("/users")
@admin_required
def add():
    form = request.form
    try:
        user = add_user(db(), form.get("email", ""), form.get("password", ""), form.get("admin") == "yes")
    except AccountError as exc:
        db().rollback()
        flash(f"Not added: {exc}.")
        return redirect(url_for("admin.users"))
    _done(f"Added {user.email}{' (admin)' if user.is_admin else ''}.", change="added", user=user.email)
    return redirect(url_for("admin.users"))


@bp.post("/users/<int:user_id>/<any(disable, enable, password):change>")
@admin_required
def change(user_id, change):
    user = _user(user_id)
    if user.id == page_user().id and change == "disable":
        flash("You cannot disable your own account.")
        return redirect(url_for("admin.users"))
    try:
        if change == "disable":
            disable_user(db(), user.email)
            message = f"Disabled {user.email}: their sessions and tokens stopped working."
        elif change == "enable":
            enable_user(db(), user.email)
            message = f"Enabled {user.email}."
        else:
            set_password(db(), user.email, request.form.get("password", ""))
            message = f"Set a new password for {user.email}; their sessions have ended."
    except AccountError as exc:
        db().rollback()
        flash(f"Not changed: {exc}.")
        return redirect(url_for("admin.users"))
    _done(message, change=change, user=user.email)
    return redirect(url_for("admin.users"))


@bp.get("/users/<int:user_id>/tokens")
@admin_required
def tokens(user_id):
    return _tokens_page(_user(user_id))


def _tokens_page(user, new_token=None):
    """A user's tokens; ``new_token``: the text of one just made, shown once."""
    return render_template(
        "admin_tokens.html",
        user=user,
        tokens=list_tokens(db(), user.email),
        lifetimes=TOKEN_LIFETIMES,
        new_token=new_token,
    )


@bp.post("/users/<int:user_id>/tokens")
@admin_required
def new_token(user_id):
    user = _user(user_id)
    lifetime = request.form.get("expires", "")
    try:
        text = create_token(db(), user.email, expiry(lifetime) if lifetime else None)
    except AccountError as exc:
        db().rollback()
        flash(f"No token made: {exc}.")
        return redirect(url_for("admin.tokens", user_id=user.id))
    audit(db(), page_user(), "account", None, "web", {"change": "token created", "user": user.email})
    db().commit()
    # Shown once, on this answer to the POST (never stored, never in a URL); the page is not cached.
    return _tokens_page(user, new_token=text)


@bp.post("/tokens/<int:token_id>/revoke")
@admin_required
def revoke(token_id):
    if not 0 < token_id < 2**31:
        abort(404)
    try:
        token = revoke_token(db(), str(token_id))
    except AccountError:
        abort(404)
    _done(f"Revoked token {token.id} of {token.user.email}.", change="token revoked", user=token.user.email)
    return redirect(url_for("admin.tokens", user_id=token.user_id))


@bp.get("/audit")
@admin_required
def audit_trail():
    """Who created, viewed, printed, exported, corrected or searched which records, and when: newest first."""
    session = db()
    text = request.args.get("page", "1")
    page = int(text) if text.isascii() and text.isdigit() and 0 < len(text) < 7 else 1
    events = session.scalars(
        select(AuditEvent).order_by(AuditEvent.id.desc()).offset((page - 1) * AUDIT_PAGE).limit(AUDIT_PAGE)
    ).all()
    ids = {e.estimate_id for e in events if e.estimate_id} | {
        i for e in events for i in ((e.detail or {}).get("listed") or []) if isinstance(i, int)
    }
    numbers = dict(
        session.execute(select(SavedEstimate.id, SavedEstimate.number).where(SavedEstimate.id.in_(ids))).all()
    )
    total = session.scalar(select(func.count()).select_from(AuditEvent))
    return render_template(
        "admin_audit.html", events=events, numbers=numbers, page=page, total=total, per_page=AUDIT_PAGE
    )


def init_app(app):
    app.register_blueprint(bp)
