"""Staff users and API tokens. Passwords and tokens are kept only as slow salted hashes (argon2)."""

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select

from .models import ApiToken, User, utcnow

HASHER = PasswordHasher()
TOKEN_PREFIX = "est"
MIN_PASSWORD = 12


class AccountError(Exception):
    """A user or token command that cannot be carried out (unknown user, weak password, ...)."""


def check_password(user, password):
    try:
        return HASHER.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def add_user(session, email, password, admin=False):
    email = email.strip().lower()
    if "@" not in email or len(email) > 254:
        raise AccountError(f"'{email}' is not an email address")
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password must have at least {MIN_PASSWORD} characters")
    if session.scalar(select(User).where(User.email == email)):
        raise AccountError(f"{email} already has an account")
    user = User(email=email, password_hash=HASHER.hash(password), is_admin=admin)
    session.add(user)
    session.commit()
    return user


def find_user(session, email):
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise AccountError(f"no account for {email}")
    return user


def sign_in(session, email, password):
    """The active user with this email and password, or None (the same answer for every failure)."""
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        HASHER.hash(password)  # as slow as a real check, so the answer does not tell which part was wrong
        return None
    return user if user.is_active and check_password(user, password) else None


def create_token(session, email):
    """A new API token for the user: returned once, in the clear; kept only as a hash."""
    user = find_user(session, email)
    if not user.is_active:
        raise AccountError(f"{email} is disabled")
    secret = secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, token_hash=HASHER.hash(secret))
    session.add(token)
    session.commit()
    return f"{TOKEN_PREFIX}_{token.id}_{secret}"


def user_for_token(session, text):
    """The active user a bearer token belongs to, or None (revoked, unknown, wrong, disabled)."""
    parts = (text or "").split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX or not parts[1].isdigit():
        return None
    token = session.get(ApiToken, int(parts[1]))
    if token is None or token.revoked_at is not None or not token.user.is_active:
        return None
    try:
        HASHER.verify(token.token_hash, parts[2])
    except (VerificationError, InvalidHashError):
        return None
    return token.user


def revoke_token(session, token_id):
    token = session.get(ApiToken, int(token_id))
    if token is None:
        raise AccountError(f"no token {token_id}")
    token.revoked_at = utcnow()
    session.commit()
    return token


def disable_user(session, email):
    user = find_user(session, email)
    user.is_active = False
    session.commit()
    return user
