"""gunicorn settings for Team Planner: `gunicorn -c deploy/gunicorn.conf.py wsgi:app` from the repository root.

Every value can be set from the environment (PLANNER_BIND, PLANNER_WORKERS, ...) so that the systemd
unit and a test start the same file.
"""

import multiprocessing
import os

bind = os.environ.get("PLANNER_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("PLANNER_WORKERS", str(min(4, multiprocessing.cpu_count() * 2))))
threads = int(os.environ.get("PLANNER_THREADS", "1"))
#: requests that take longer are killed and the worker restarted (seating searches run off the request)
timeout = int(os.environ.get("PLANNER_TIMEOUT", "60"))
graceful_timeout = 30
keepalive = 5
#: restart workers now and then, so that a slow leak never grows
max_requests = int(os.environ.get("PLANNER_MAX_REQUESTS", "2000"))
max_requests_jitter = 200
accesslog = os.environ.get("PLANNER_ACCESS_LOG", "-")
errorlog = "-"
#: the app reads X-Forwarded-* only when PROXY_FIX_X_FOR is set in its config; gunicorn trusts its local proxy
forwarded_allow_ips = os.environ.get("PLANNER_FORWARDED_ALLOW_IPS", "127.0.0.1")
