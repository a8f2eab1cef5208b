from __future__ import annotations

import io
import json
import logging
from logging.config import dictConfig

from django.conf import settings

from config.request_id import set_request_id


def test_json_logs_carry_the_request_id() -> None:
    config = {**settings.LOGGING, "disable_existing_loggers": False}
    stream = io.StringIO()
    config["handlers"] = {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "filters": ["request_id"],
            "stream": stream,
        }
    }
    logger = logging.getLogger("imagesolve.test.json")
    try:
        dictConfig(config)
        set_request_id("req-json-0001")
        logger.warning("hello %s", "world")
    finally:
        set_request_id(None)
        dictConfig(settings.LOGGING)
    line = json.loads(stream.getvalue().strip().splitlines()[-1])
    assert line["message"] == "hello world"
    assert line["request_id"] == "req-json-0001"
    assert line["level"] == "WARNING"
