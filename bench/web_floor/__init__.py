"""The floor of the web benchmark (bench/bench_web.py): a minimal Django + DRF
project doing the least a submission can do (a SHA-256 token lookup, one
INSERT, one Celery publish) and the least an authenticated read can do. It
runs under the same gunicorn settings, on the same PostgreSQL server and
Redis as the product, so the product's figures can be read against it."""
