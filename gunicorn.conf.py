"""gunicorn settings: ``gunicorn --config gunicorn.conf.py wsgi:app``.

Estimates are CPU-bound (pandas and numpy), so one worker per core plus one; the app and its fee
schedules are loaded once in the master (``preload_app``) and shared by the forked workers.
"""

import multiprocessing
import os

bind = os.environ.get("ESTIMATOR_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("ESTIMATOR_WORKERS", multiprocessing.cpu_count() + 1))
preload_app = True
timeout = int(os.environ.get("ESTIMATOR_TIMEOUT", 120))  # large batch uploads
# The access log records method, path and status only: never bodies, which may carry patient references.
accesslog = "-"
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'
