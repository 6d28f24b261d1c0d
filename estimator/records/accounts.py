"""Staff users and API tokens. Passwords are kept only as slow salted hashes (argon2); API tokens, long
random secrets, only as SHA-256 digests, looked up directly (a slow hash per API call would let anyone
spend the server's CPU with made-up tokens)."""

import datetime as dt
import hashlib
import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select

from .models import ApiToken, User, as_utc, utcnow

HASHER = PasswordHasher()
TOKEN_PREFIX = "est_"
#: A token is ``est_`` and 43 URL-safe characters (32 random bytes): anything else is not one.
TOKEN_PATTERN = re.compile(r"est_[A-Za-z0-9_-]{43}")
MIN_PASSWORD = 12
MAX_PASSWORD = 1024
#: The longest a token may live, and the forms ``--expires`` takes.
MAX_TOKEN_DAYS = 3650
_DURATION = re.compile(r"(\d{1,5})\s*([dwmy]?)")


class AccountError(Exception):
    """A user or token command that cannot be carried out (unknown user, weak password, ...)."""


def check_password(user, password):
    try:
        return HASHER.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _plain_text(text, what):
    """``text`` if it is text a database and a page can hold (no NUL, no half of a character pair)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise AccountError(f"the {what} holds bytes that are not text") from None
    if "\x00" in text:
        raise AccountError(f"the {what} holds a NUL character")
    return text


def _checked_password(password):
    _plain_text(password, "password")
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password must have at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"the password must have at most {MAX_PASSWORD} characters")
    return password


def add_user(session, email, password, admin=False):
    email = _plain_text(email, "email").strip().lower()
    if "@" not in email or len(email) > 254:
        raise AccountError(f"'{email}' is not an email address")
    _checked_password(password)
    if session.scalar(select(User).where(User.email == email)):
        raise AccountError(f"{email} already has an account")
    user = User(email=email, password_hash=HASHER.hash(password), is_admin=admin)
    session.add(user)
    session.commit()
    return user


def find_user(session, email):
    user = session.scalar(select(User).where(User.email == _plain_text(email, "email").strip().lower()))
    if user is None:
        raise AccountError(f"no account for {email}")
    return user


def sign_in(session, email, password):
    """The active user with this email and password, or None: the same answer, in the same time, for every
    failure (an unknown email, a wrong password, a disabled account)."""
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        HASHER.hash(password[:MAX_PASSWORD])  # as slow as a real check
        return None
    correct = check_password(user, password[:MAX_PASSWORD])  # checked for a disabled account too
    return user if correct and user.is_active else None


def end_sessions(user):
    """Every web session of the user ends (they sign in again)."""
    user.session_version = (user.session_version or 0) + 1


def set_password(session, email, password):
    """A new password; every session of the user ends."""
    user = find_user(session, email)
    user.password_hash = HASHER.hash(_checked_password(password))
    end_sessions(user)
    session.commit()
    return user


def token_digest(text):
    return hashlib.sha256(text.encode()).hexdigest()


def expiry(text, now=None):
    """When a token given ``--expires`` (``90d``, ``12w``, ``6m``, ``1y``; a bare number is days) expires."""
    match = _DURATION.fullmatch((text or "").strip().lower())
    if not match:
        raise AccountError(f"'{text}' is not a duration: give days, weeks, months or years, such as 90d or 1y")
    count, unit = int(match.group(1)), match.group(2) or "d"
    days = count * {"d": 1, "w": 7, "m": 30, "y": 365}[unit]
    if not 1 <= days <= MAX_TOKEN_DAYS:
        raise AccountError(f"a token lives 1 to {MAX_TOKEN_DAYS} days, not {days}")
    return (now or utcnow()) + dt.timedelta(days=days)


def create_token(session, email, expires=None):
    """A new API token for the user: returned once, in the clear; kept only as its SHA-256 digest.
    ``expires``: when it stops working (None: until revoked)."""
    user = find_user(session, email)
    if not user.is_active:
        raise AccountError(f"{email} is disabled")
    text = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, token_hash=token_digest(text), expires_at=expires))
    session.commit()
    return text


def user_for_token(session, text):
    """The active user a bearer token belongs to, or None (not a token, unknown, revoked, expired,
    disabled): one indexed lookup, whatever the text."""
    if not isinstance(text, str) or not TOKEN_PATTERN.fullmatch(text):
        return None
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == token_digest(text)))
    if token is None or token.revoked_at is not None or not token.user.is_active:
        return None
    if token.expires_at is not None and as_utc(token.expires_at) <= utcnow():
        return None
    return token.user


def list_tokens(session, email=None):
    """Every token (of one user), oldest first, with its state: active, expired or revoked."""
    query = select(ApiToken).order_by(ApiToken.id)
    if email:
        query = query.where(ApiToken.user_id == find_user(session, email).id)
    now = utcnow()
    out = []
    for token in session.scalars(query):
        if token.revoked_at is not None:
            state = "revoked"
        elif token.expires_at is not None and as_utc(token.expires_at) <= now:
            state = "expired"
        else:
            state = "active"
        out.append((token, state))
    return out


def revoke_token(session, token_id):
    try:
        token = session.get(ApiToken, int(token_id)) if str(token_id).isdigit() and len(str(token_id)) < 12 else None
    except ValueError:
        token = None
    if token is None and isinstance(token_id, str) and TOKEN_PATTERN.fullmatch(token_id):
        token = session.scalar(select(ApiToken).where(ApiToken.token_hash == token_digest(token_id)))
    if token is None:
        raise AccountError(f"no token {token_id}")
    token.revoked_at = token.revoked_at or utcnow()
    session.commit()
    return token


def disable_user(session, email):
    """The user can no longer sign in or use a token; every session of theirs ends."""
    user = find_user(session, email)
    user.is_active = False
    end_sessions(user)
    session.commit()
    return user


def enable_user(session, email):
    user = find_user(session, email)
    user.is_active = True
    session.commit()
    return user
