"""Refusals as RFC 9457 problem documents, shared by the REST API and the SensorThings read API."""

from __future__ import annotations

import json
from http import HTTPStatus

from fastapi.responses import Response

PROBLEM = "application/problem+json"


class ApiError(Exception):
    """A request the API refuses: status and the problems, each naming its parameter."""

    def __init__(self, status: int, problems: list[tuple[str | None, str]], headers: dict | None = None):
        self.status, self.problems, self.headers = status, problems, headers or {}


def problem_response(status: int, problems: list[tuple[str | None, str]], headers: dict | None = None) -> Response:
    body = {"type": "about:blank", "title": HTTPStatus(status).phrase, "status": status,
            "detail": "; ".join(message for _, message in problems),
            "errors": [{"parameter": parameter, "message": message} for parameter, message in problems]}
    return Response(json.dumps(body, ensure_ascii=False), status, headers=headers, media_type=PROBLEM)
