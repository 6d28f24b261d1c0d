"""gunicorn glue: an access log that cannot be forged, and gunicorn's own error pages (a request line
too long, a malformed request) sent with the same security headers as every page of the app."""

import html
import re

from gunicorn import util
from gunicorn.glogging import Logger

from .http import SECURITY_HEADERS, STRICT_CSP

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def escape_controls(text):
    """``text`` with each control character written as ``\\xNN``, so one request is one log line."""
    return _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", text) if _CONTROL.search(text) else text


_INVALID_REQUEST = re.compile(r"(Invalid request from ip=\S*?): .*", re.DOTALL)


class AccessLogger(Logger):
    """gunicorn's logger, with control characters in every access-log field escaped (a decoded path can
    hold CR, LF and NUL: written raw, they would forge log lines), and no request line or query string in
    its error log: a malformed request's line, or a failed request's URI, may carry a patient's name."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        return {key: escape_controls(value) if isinstance(value, str) else value for key, value in atoms.items()}

    def warning(self, msg, *args, **kwargs):
        super().warning(*_without_request(msg, args), **kwargs)

    def exception(self, msg, *args, **kwargs):
        super().exception(*_without_request(msg, args), **kwargs)

    def error(self, msg, *args, **kwargs):
        super().error(*_without_request(msg, args), **kwargs)


def _without_request(msg, args):
    """gunicorn's message with what the client sent left out: the text of a malformed request, and the
    query string of a URI (the path stays, as in the access log)."""
    if isinstance(msg, str):
        msg = _INVALID_REQUEST.sub(r"\1: the request is not logged (it may hold patient details)", msg)
        if msg.startswith("Error handling request") and args:
            args = (*args[:-1], escape_controls(str(args[-1]).split("?", 1)[0]))
    return (msg, *args)


_ERROR_PAGE_HEADERS = {**SECURITY_HEADERS, "Content-Security-Policy": STRICT_CSP, "Cache-Control": "no-store"}
ERROR_HEADERS = "".join(f"{name}: {value}\r\n" for name, value in _ERROR_PAGE_HEADERS.items())


def write_error(sock, status_int, reason, mesg):
    """gunicorn's error answer (``gunicorn.util.write_error``), with the security headers."""
    page = (
        f'<!doctype html><html lang="en"><head><title>{html.escape(reason)}</title></head>'
        f"<body><h1>{html.escape(reason)}</h1><p>{html.escape(mesg)}</p></body></html>\n"
    )
    body = page.encode("utf-8")
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\nContent-Type: text/html; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n{ERROR_HEADERS}\r\n"
    )
    util.write_nonblock(sock, head.encode("latin-1") + body)


def install_error_page():
    """Make gunicorn's workers answer their own errors with :func:`write_error` (call in the master)."""
    util.write_error = write_error
