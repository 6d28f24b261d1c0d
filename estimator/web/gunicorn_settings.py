"""gunicorn settings: ``gunicorn --config python:estimator.web.gunicorn_settings estimator.web.wsgi:app`` (what
``estimator serve`` runs; the checkout's ``gunicorn.conf.py`` and ``wsgi.py`` name the same).

One worker process per core plus one, each with a pool of threads (``gthread``): a client that sends
its body slowly holds one thread, not a whole worker. A worker takes no more connections than it has
threads (no idle keep-alive connections either), so a connection waits in the listen queue for a worker
with a free thread instead of queueing behind slow clients in a busy one: it takes workers x threads
slow clients at once to stop the service. The app and its fee schedules are loaded once in the master
(``preload_app``) and shared by the forked workers. Facing the internet, put a buffering proxy in front.
"""

import multiprocessing
import os

bind = os.environ.get("ESTIMATOR_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("ESTIMATOR_WORKERS", multiprocessing.cpu_count() + 1))
worker_class = "gthread"
threads = int(os.environ.get("ESTIMATOR_THREADS", 16))
worker_connections = threads
keepalive = 0
preload_app = True
timeout = int(os.environ.get("ESTIMATOR_TIMEOUT", 120))  # large batch uploads
# The access log records method, path and status only: never bodies, which may carry patient references.
# Its fields have their control characters escaped (estimator.web.serving.AccessLogger).
accesslog = "-"
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'
logger_class = "estimator.web.serving.AccessLogger"


def on_starting(server):
    """gunicorn's own error pages (a request line too long, a malformed request) get the security headers."""
    from estimator.web.serving import install_error_page

    install_error_page()
